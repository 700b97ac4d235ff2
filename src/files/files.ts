import { createHmac, timingSafeEqual } from 'node:crypto';
import { extname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { badRequest, ChatError, forbidden, notFound } from '../chat/errors.ts';
import type { RoomId, UserId } from '../chat/model.ts';
import type { RoomService } from '../chat/rooms.ts';
import type { ByteRange, FileStore, StoredObject } from '../infra/ports/files.ts';
import type { PeopleStore } from '../infra/ports/people.ts';
import type { FileId, StoredFile } from '../people/model.ts';
import { contentTypeOf } from './content-types.ts';

/** Files a room's detail shows. */
export const LATEST_FILES = 5;
export const MAX_LIST = 100;

export class UploadTooLargeError extends ChatError {
  constructor(readonly limitBytes: number) {
    super(413, 'file_too_large', `the file is larger than the limit of ${limitBytes} bytes (MAX_UPLOAD_BYTES)`);
  }
}

export interface FileOptions {
  newId: () => string;
  maxBytes: number;
  /** Key of the download URL signatures. */
  signingKey: string;
  urlTtlSeconds: number;
  now?: () => number;
}

export interface FileView extends StoredFile {
  /** Signed download URL (path and query, on this API's origin), valid for FILE_URL_TTL. */
  url: string;
}

export interface Download {
  file: StoredFile;
  object: StoredObject;
  range?: ByteRange;
}

/** Counts the bytes going through and fails the stream as soon as they pass the limit: nothing larger is ever written. */
function limited(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new UploadTooLargeError(maxBytes));
      else callback(null, chunk);
    },
  });
}

/** A file's download path; FILE messages name files by it. */
export const filePath = (fileId: FileId): string => `/api/file/${fileId}/download`;
const FILE_URL = /\/api\/file\/([0-9]{1,19})(?:\/download)?(?:[?#]|$)/;

/**
 * FlameTalk's file service: uploads streamed into the file store under a size limit, metadata in
 * the people store, room files readable by the room's members, and signed, expiring download URLs
 * (an `<img>` tag cannot send a token).
 */
export class FileService {
  private readonly now: () => number;

  constructor(
    private readonly store: FileStore,
    private readonly people: PeopleStore,
    private readonly rooms: RoomService,
    private readonly options: FileOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /** The room is checked before a byte is stored when it is known first (the form field before the file). */
  async checkRoom(userId: UserId, roomId: RoomId): Promise<void> {
    await this.rooms.requireMember(userId, roomId);
  }

  async upload(userId: UserId, roomId: RoomId | null, filename: string, mimetype: string | undefined, body: Readable): Promise<FileView> {
    if (roomId !== null) await this.checkRoom(userId, roomId);
    const title = (filename || 'file').slice(0, 255);
    const extension = extname(title).slice(1).toLowerCase().slice(0, 16);
    const contentType = mimetype && mimetype !== 'application/octet-stream' ? mimetype : contentTypeOf(extension);
    const fileId = this.options.newId();
    const counter = limited(this.options.maxBytes);
    body.on('error', (error) => counter.destroy(error));
    const size = await this.store.put(fileId, body.pipe(counter), contentType);
    const file: StoredFile = { fileId, uploaderId: userId, roomId, title, extension, size, contentType, createdAt: this.now() };
    try {
      await this.people.putFile(file);
    } catch (error) {
      await this.store.delete(fileId).catch(() => undefined);
      throw error;
    }
    return this.view(file);
  }

  /** A file uploaded before its form named the room (chatroomId after the file): checked now, kept only if allowed. */
  async attachToRoom(userId: UserId, file: FileView, roomId: RoomId): Promise<FileView> {
    try {
      await this.checkRoom(userId, roomId);
    } catch (error) {
      await this.delete(userId, file.fileId).catch(() => undefined);
      throw error;
    }
    const { url: _url, ...stored } = file;
    const attached: StoredFile = { ...stored, roomId };
    await this.people.putFile(attached);
    return this.view(attached);
  }

  /** The uploader, or a member of the file's room. */
  async metadata(userId: UserId, fileId: FileId): Promise<FileView> {
    return this.view(await this.readable(userId, fileId));
  }

  async roomFiles(userId: UserId, roomId: RoomId, limit = MAX_LIST): Promise<FileView[]> {
    await this.rooms.requireMember(userId, roomId);
    return (await this.people.filesOfRoom(roomId, limit)).map((f) => this.view(f));
  }

  /** For a room's detail: no membership check (the caller made it). */
  async latest(roomId: RoomId): Promise<FileView[]> {
    return (await this.people.filesOfRoom(roomId, LATEST_FILES)).map((f) => this.view(f));
  }

  async delete(userId: UserId, fileId: FileId): Promise<void> {
    const file = await this.people.getFile(fileId);
    if (!file) throw notFound('no file with this id', 'file_not_found');
    if (file.uploaderId !== userId) throw forbidden('only the uploader may delete a file', 'not_uploader');
    await this.people.deleteFile(fileId);
    await this.store.delete(fileId);
  }

  /** 403 for a missing or wrong signature and for an expired URL; 416 for a range outside the file. */
  async download(fileId: FileId, expires: number | undefined, signature: string | undefined, range?: string): Promise<Download> {
    if (expires === undefined || signature === undefined || !this.validSignature(fileId, expires, signature)) {
      throw forbidden('this file URL has no valid signature: ask the API for the file to get one', 'bad_signature');
    }
    if (expires * 1000 < this.now()) throw forbidden('this file URL has expired: ask the API for the file to get a new one', 'url_expired');
    const file = await this.people.getFile(fileId);
    const size = file && (await this.store.size(fileId));
    if (!file || size === undefined) throw notFound('no file with this id', 'file_not_found');
    const byteRange = range === undefined ? undefined : parseRange(range, size);
    const object = await this.store.get(fileId, byteRange);
    if (!object) throw notFound('no file with this id', 'file_not_found');
    return { file, object, ...(byteRange ? { range: byteRange } : {}) };
  }

  /** FILE messages must name a file of their room (by its URL, signed or not). */
  async checkFileMessage(roomId: RoomId, fileUrl: string): Promise<void> {
    const match = FILE_URL.exec(fileUrl);
    const file = match ? await this.people.getFile(match[1]!) : undefined;
    if (!file || file.roomId !== roomId) throw badRequest('fileUrl must name a file uploaded to this room (POST /api/file with its chatroomId)', 'file_not_in_room');
  }

  /** A stored FILE message's URL with a fresh signature (history outlives FILE_URL_TTL); other URLs as they are. */
  refreshUrl(fileUrl: string): string {
    const match = /^(.*)\/api\/file\/([0-9]{1,19})\/download(?:\?[^#]*)?$/.exec(fileUrl);
    return match ? `${match[1]}${this.signedUrl(match[2]!)}` : fileUrl;
  }

  signedUrl(fileId: FileId): string {
    // Rounded up: a URL is valid for at least FILE_URL_TTL seconds.
    const expires = Math.ceil(this.now() / 1000 + this.options.urlTtlSeconds);
    return `${filePath(fileId)}?expires=${expires}&signature=${this.sign(fileId, expires)}`;
  }

  private view(file: StoredFile): FileView {
    return { ...file, url: this.signedUrl(file.fileId) };
  }

  private async readable(userId: UserId, fileId: FileId): Promise<StoredFile> {
    const file = await this.people.getFile(fileId);
    if (!file) throw notFound('no file with this id', 'file_not_found');
    if (file.uploaderId === userId) return file;
    if (file.roomId === null) throw forbidden('this file is not shared with you', 'not_member');
    await this.rooms.requireMember(userId, file.roomId);
    return file;
  }

  private sign(fileId: FileId, expires: number): string {
    return createHmac('sha256', this.options.signingKey).update(`file:${fileId}:${expires}`).digest('base64url');
  }

  private validSignature(fileId: FileId, expires: number, signature: string): boolean {
    const expected = Buffer.from(this.sign(fileId, expires));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** One `bytes=` range (the first, when several are asked for), resolved against the size. */
export function parseRange(header: string, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)(?:,.*)?$/.exec(header.trim());
  const unsatisfiable = new ChatError(416, 'range_not_satisfiable', `the range ${header} is not within the file's ${size} bytes`);
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw unsatisfiable;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable;
  return { start, end };
}
