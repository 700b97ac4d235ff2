import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, ChatError } from '../../chat/errors.ts';
import { iso } from '../../chat/dto.ts';
import { realIds, type MemberNaming } from '../../chat/member-ids.ts';
import { MAX_LIST, type FileService, type FileView } from '../../files/files.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok, send } from '../envelope.ts';
import { arrayOf, errorEnvelope, isoTime, nullable, object, replies } from '../response-schemas.ts';
import { snowflakeId } from '../schemas.ts';

export const fileSchema = object({
  fileId: { type: 'string' }, title: { type: 'string' }, extension: { type: 'string' }, size: { type: 'integer' },
  contentType: { type: 'string' }, url: { type: 'string', description: 'signed download URL on this origin, valid for FILE_URL_TTL' },
  roomId: nullable({ type: 'string' }), uploaderId: { type: 'string' }, createdAt: isoTime,
});

/** Where this API is reached from outside: FILES_PUBLIC_URL, else the request's own scheme and host. */
export function originOf(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ? publicUrl.replace(/\/+$/, '') : `${request.protocol}://${request.host}`;
}

/** File URLs are absolute, so that a FILE message's fileUrl works wherever it is shown. */
/** `name`: how the file's room names its members (the uploader goes by their id in an open room). */
export const fileDto = (f: FileView, origin: string, name: MemberNaming = realIds) => ({
  fileId: f.fileId, title: f.title, extension: f.extension, size: f.size, contentType: f.contentType, url: `${origin}${f.url}`,
  roomId: f.roomId, uploaderId: name(f.uploaderId), createdAt: iso(f.createdAt),
});

const idParams = (name: string) => ({ type: 'object', required: [name], additionalProperties: false, properties: { [name]: snowflakeId } }) as const;

/** Content types a browser would run as a page of this origin: never shown inline. */
const ACTIVE = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|application\/javascript|text\/javascript)/i;

function contentDisposition(disposition: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** FlameTalk's file service: multipart upload, metadata, a room's files, delete, and signed downloads with Range. */
export async function fileRoutes(app: FastifyInstance, deps: HttpDeps & { files: FileService }): Promise<void> {
  const { files } = deps;
  const origin = (request: FastifyRequest): string => originOf(request, deps.config.filesPublicUrl);

  // Public: the signature is the permission, so that an <img> tag (which sends no token) can show it.
  app.get<{ Params: { id: string }; Querystring: { expires?: number; signature?: string } }>('/api/file/:id/download', {
    schema: {
      summary: 'Download a file by its signed URL (Range supported)',
      params: idParams('id'),
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { expires: { type: 'integer', minimum: 0 }, signature: { type: 'string', maxLength: 128 } },
      },
      headers: { type: 'object', properties: { range: { type: 'string', maxLength: 200 } } },
      response: {
        200: { description: 'The whole file', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        206: { description: 'The range asked for', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        '4xx': { ...errorEnvelope, description: 'No valid signature or expired (403), unknown (404), range outside the file (416)' },
      },
    },
  }, async (request, reply) => {
    const { expires, signature } = request.query;
    const range = request.headers.range;
    const { file, object: stored, range: served } = await files.download(request.params.id, expires, signature, range);
    reply
      .header('content-type', file.contentType)
      .header('content-disposition', contentDisposition(ACTIVE.test(file.contentType) ? 'attachment' : 'inline', file.title))
      .header('x-content-type-options', 'nosniff')
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=300');
    if (served) {
      reply.code(206).header('content-range', `bytes ${served.start}-${served.end}/${stored.size}`).header('content-length', String(served.end - served.start + 1));
    } else {
      reply.code(200).header('content-length', String(stored.size));
    }
    return reply.send(stored.body);
  });

  await app.register(async (signedIn) => {
    requireAuth(signedIn, deps.authenticate);
    await signedIn.register(multipart, {
      // The limit is enforced while streaming (see FileService); busboy stops reading one byte past it.
      limits: { fileSize: files.maxBytes + 1, files: 1, fields: 5, fieldSize: 256, parts: 6 },
      throwFileSizeLimit: false,
    });

    signedIn.post('/api/file', {
      schema: {
        summary: 'Upload a file (multipart/form-data: file, optional chatroomId); larger than MAX_UPLOAD_BYTES gets 413',
        consumes: ['multipart/form-data'],
        response: replies(201, 'The stored file', fileSchema),
      },
    }, async (request, reply) => {
      if (!request.isMultipart()) throw new ChatError(415, 'not_multipart', 'the body must be multipart/form-data with a file field');
      const userId = request.identity.userId;
      let roomId: string | null = null;
      let stored: FileView | undefined;
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          if (part.fieldname !== 'chatroomId') throw badRequest(`unknown form field ${part.fieldname}`);
          const value = String(part.value);
          if (!/^[0-9]{1,19}$/.test(value)) throw badRequest('chatroomId must be a room id');
          roomId = value;
          if (!stored) await files.checkRoom(userId, roomId);
          continue;
        }
        if (part.fieldname !== 'file') throw badRequest(`the file must be in the form field "file", not "${part.fieldname}"`);
        stored = await files.upload(userId, roomId, part.filename, part.mimetype, part.file);
      }
      if (!stored) throw badRequest('no file in the form field "file"', 'file_required');
      // chatroomId came after the file: checked now, and nothing is kept if it fails.
      if (roomId !== null && stored.roomId !== roomId) stored = await files.attachToRoom(userId, stored, roomId);
      const name = stored.roomId === null ? realIds : await deps.rooms.namingOf(stored.roomId);
      return send(reply, 201, 'file stored', fileDto(stored, origin(request), name));
    });

    signedIn.get<{ Params: { id: string } }>('/api/file/:id', {
      schema: { summary: "A file's metadata and a fresh signed URL (the uploader or the room's members)", params: idParams('id'), response: replies(200, 'The file', fileSchema) },
    }, async (request, reply) => {
      const file = await files.metadata(request.identity.userId, request.params.id);
      const name = file.roomId === null ? realIds : await deps.rooms.namingOf(file.roomId);
      return ok(reply, 'file', fileDto(file, origin(request), name));
    });

    signedIn.get<{ Params: { roomId: string }; Querystring: { limit?: number } }>('/api/file/chatroom/:roomId', {
      schema: {
        summary: "A room's files, newest first (members only)", params: idParams('roomId'),
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LIST, default: 50 } } },
        response: replies(200, 'Files', object({ files: arrayOf(fileSchema) })),
      },
    }, async (request, reply) => {
      const { roomId } = request.params;
      const found = await files.roomFiles(request.identity.userId, roomId, request.query.limit);
      const name = await deps.rooms.namingOf(roomId);
      return ok(reply, 'room files', { files: found.map((f) => fileDto(f, origin(request), name)) });
    });

    signedIn.delete<{ Params: { id: string } }>('/api/file/:id', {
      schema: { summary: 'Delete a file (the uploader)', params: idParams('id'), response: replies(200, 'Deleted', { type: 'null' }) },
    }, async (request, reply) => {
      await files.delete(request.identity.userId, request.params.id);
      return ok(reply, 'file deleted', null);
    });
  });
}
