import { generateKeyPair, randomUUID, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { LoopbackAgent } from '../../src/infra/fcm/loopback-agent.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A local stand-in for Google's two FCM endpoints, so that firebase-admin itself can run in tests
 * and in a local cluster without a Firebase project: the OAuth token endpoint
 * (oauth2.googleapis.com `POST /token`) and FCM HTTP v1 (fcm.googleapis.com
 * `POST /v1/projects/{id}/messages:send`). Errors use FCM's JSON error shape, so the SDK maps them
 * to the same `messaging/...` codes as in production.
 *
 * TLS: the server speaks plain HTTP on 127.0.0.1 and the agent hands the SDK a plain TCP socket
 * for every `https://` URL. Node's https client runs over whatever socket the agent's
 * `createConnection` returns, so nothing needs a certificate: no cert generation (Node has no API
 * for it), no `rejectUnauthorized: false`, no process-wide CA change. The agent cannot leak to the
 * real Google either, because it ignores the host it is asked for.
 */

/** FCM's limit on one message. The fake counts the whole request body, which is stricter than FCM
 *  (FCM counts the payload it forwards), so a request the fake accepts is one FCM accepts. */
export const FCM_PAYLOAD_LIMIT = 4096;

/** One message as FCM accepted it. */
export interface Delivered {
  token: string;
  title?: string;
  body?: string;
  data: Record<string, string>;
  android?: Record<string, unknown>;
  apns?: Record<string, unknown>;
  /** Size of the request body FCM received for this message. */
  bytes: number;
}

export interface FakeFcm {
  port: number;
  projectId: string;
  /** A service-account JSON with a freshly generated RSA key; pass it to `cert()`. */
  serviceAccountPath: string;
  /** Routes every connection the SDK opens to this fake; pass it as `httpAgent`. */
  agent: Agent;
  /** Every accepted message, in arrival order (a live array). */
  delivered: Delivered[];
  /** OAuth token requests answered with a token (proof that the SDK signed in against the fake). */
  readonly tokenRequests: number;
  /** Sizes of every messages:send request body, accepted or not. */
  requestSizes: number[];
  /** Answers for this token as for an uninstalled app: 404 UNREGISTERED. */
  markUnregistered(token: string): void;
  /** Answers the next `requests` messages:send requests with 429 QUOTA_EXCEEDED. */
  exceedQuota(requests: number): void;
  close(): Promise<void>;
}

const fcmError = (code: number, status: string, errorCode: string, message: string) => ({
  error: {
    code,
    message,
    status,
    details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }],
  },
});

// Real FCM tokens are base64url-ish with colons; anything else FCM rejects as malformed.
const WELL_FORMED_TOKEN = /^[A-Za-z0-9_:.-]+$/;
const TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** The part of an FCM v1 `Message` the fake looks at, as firebase-admin puts it on the wire. */
interface WireMessage {
  token?: string;
  notification?: { title?: string; body?: string };
  data?: Record<string, string>;
  android?: Record<string, unknown>;
  apns?: Record<string, unknown>;
}

export { LoopbackAgent };

export async function startFakeFcm(options: { projectId?: string } = {}): Promise<FakeFcm> {
  const projectId = options.projectId ?? 'flametalk-local';
  const clientEmail = `flametalk-push@${projectId}.iam.gserviceaccount.com`;
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const dir = await mkdtemp(join(tmpdir(), 'flametalk-fcm-'));
  const serviceAccountPath = join(dir, 'service-account.json');
  await writeFile(
    serviceAccountPath,
    JSON.stringify({
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomUUID().replaceAll('-', ''),
      private_key: privateKey,
      client_email: clientEmail,
      client_id: '0',
      token_uri: TOKEN_URL,
    }),
    { mode: 0o600 },
  );

  const accessTokens = new Set<string>();
  const unregistered = new Set<string>();
  const delivered: Delivered[] = [];
  const requestSizes: number[] = [];
  let tokenRequests = 0;
  let quotaFailures = 0;
  const sendPath = `/v1/projects/${projectId}/messages:send`;

  /** Google's token endpoint: accepts only a JWT assertion signed by the key it handed out. */
  const token = (body: string): [number, unknown] => {
    const assertion = new URLSearchParams(body).get('assertion') ?? '';
    const [header = '', claims = '', signature = ''] = assertion.split('.');
    const signed = verify('sha256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'));
    const payload = signed ? (JSON.parse(Buffer.from(claims, 'base64url').toString()) as { iss?: string; aud?: string }) : {};
    if (!signed || payload.iss !== clientEmail || payload.aud !== TOKEN_URL) {
      return [400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }];
    }
    tokenRequests += 1;
    const accessToken = `fake-access-${randomUUID()}`;
    accessTokens.add(accessToken);
    return [200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }];
  };

  const send = (request: IncomingMessage, body: string): [number, unknown] => {
    requestSizes.push(Buffer.byteLength(body));
    if (!accessTokens.has(request.headers.authorization?.replace(/^Bearer /, '') ?? '')) {
      // Google answers a missing or unknown OAuth token without an FcmError detail.
      return [401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }];
    }
    if (quotaFailures > 0) {
      quotaFailures -= 1;
      return [429, fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded for quota metric messages:send.')];
    }
    if (Buffer.byteLength(body) > FCM_PAYLOAD_LIMIT) {
      return [400, fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', `Message is too big: over ${FCM_PAYLOAD_LIMIT} bytes.`)];
    }
    const { message } = JSON.parse(body) as { message: WireMessage };
    const target = message.token ?? '';
    if (!WELL_FORMED_TOKEN.test(target)) {
      return [400, fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token')];
    }
    if (unregistered.has(target)) {
      return [404, fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.')];
    }
    delivered.push({
      token: target,
      title: message.notification?.title,
      body: message.notification?.body,
      data: message.data ?? {},
      android: message.android,
      apns: message.apns,
      bytes: Buffer.byteLength(body),
    });
    return [200, { name: `projects/${projectId}/messages/${delivered.length}` }];
  };

  const route = (request: IncomingMessage, body: string): [number, unknown] => {
    if (request.method === 'POST' && request.url === '/token') return token(body);
    if (request.method === 'POST' && request.url === sendPath) return send(request, body);
    return [404, { error: { code: 404, message: `fake FCM: no route for ${request.method} ${request.url}`, status: 'NOT_FOUND' } }];
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let answer: [number, unknown];
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      answer = route(request, Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      // A body that is not JSON, or a client gone mid-request: answer like Google, never crash the host.
      answer = [400, { error: { code: 400, message: `Invalid request: ${String(error)}`, status: 'INVALID_ARGUMENT' } }];
    }
    const [status, json] = answer;
    response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new LoopbackAgent(port);

  return {
    port,
    projectId,
    serviceAccountPath,
    agent,
    delivered,
    get tokenRequests() {
      return tokenRequests;
    },
    requestSizes,
    markUnregistered: (target) => void unregistered.add(target),
    exceedQuota: (requests) => void (quotaFailures = requests),
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
