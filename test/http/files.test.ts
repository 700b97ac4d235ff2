import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { TestSocket } from '../support/ws-client.ts';

const MB = 1024 * 1024;

async function upload(node: TestNode, user: TestUser, data: Buffer, options: { name?: string; type?: string; roomId?: string; roomAfter?: boolean } = {}) {
  const form = new FormData();
  if (options.roomId && !options.roomAfter) form.append('chatroomId', options.roomId);
  form.append('file', new Blob([data], { type: options.type ?? 'image/png' }), options.name ?? 'photo.png');
  if (options.roomId && options.roomAfter) form.append('chatroomId', options.roomId);
  const response = await fetch(`${node.baseUrl}/api/file`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, body: form });
  return { status: response.status, body: await response.json() as any };
}

describe('files over HTTP', () => {
  let node: TestNode;
  let dataDir: string;
  let ann: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let roomId: string;
  const stored = () => readdirSync(join(dataDir, 'files'));
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'flametalk-files-'));
    node = await startNode({ config: { dataDir } });
    [ann, bob, eve] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Eve')]);
    roomId = await node.createRoom(ann, [bob]);
  });
  after(async () => {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('round-trips a 9 MB upload byte for byte, with its metadata', async () => {
    const data = randomBytes(9 * MB);
    const created = await upload(node, ann, data, { name: 'holiday photo.jpg', type: 'image/jpeg', roomId });
    assert.equal(created.status, 201, created.body.message);
    const file = created.body.data;
    assert.equal(file.title, 'holiday photo.jpg');
    assert.equal(file.extension, 'jpg');
    assert.equal(file.size, data.length);
    assert.equal(file.contentType, 'image/jpeg');
    assert.equal(file.roomId, roomId);
    assert.match(file.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.match(file.url, new RegExp(`^${node.baseUrl}/api/file/${file.fileId}/download\\?expires=\\d+&signature=`));

    // As an <img> tag would fetch it: no token, the signed URL only.
    const download = await fetch(file.url);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'image/jpeg');
    assert.equal(download.headers.get('content-length'), String(data.length));
    assert.equal(download.headers.get('accept-ranges'), 'bytes');
    assert.match(download.headers.get('content-disposition')!, /^inline; filename="holiday photo.jpg"/);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
  });

  it('answers Range requests with the right bytes (206, Content-Range) and 416 outside the file', async () => {
    const data = randomBytes(100_000);
    const { body } = await upload(node, ann, data, { roomId });
    const get = (range: string) => fetch(body.data.url, { headers: { range } });
    const middle = await get('bytes=1000-1999');
    assert.equal(middle.status, 206);
    assert.equal(middle.headers.get('content-range'), `bytes 1000-1999/${data.length}`);
    assert.ok(Buffer.from(await middle.arrayBuffer()).equals(data.subarray(1000, 2000)));
    const suffix = await get('bytes=-10');
    assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.length - 10)));
    const open = await get('bytes=99990-');
    assert.equal(open.headers.get('content-range'), `bytes 99990-99999/${data.length}`);
    assert.ok(Buffer.from(await open.arrayBuffer()).equals(data.subarray(99990)));
    assert.equal((await get(`bytes=${data.length}-`)).status, 416);
    assert.equal((await get('pages=1-2')).status, 416);
  });

  it('refuses an 11 MB upload with 413 while streaming, and keeps nothing', async () => {
    const before = stored().length;
    const response = await upload(node, ann, randomBytes(11 * MB), { roomId });
    assert.equal(response.status, 413);
    assert.equal(response.body.data.code, 'file_too_large');
    assert.equal(stored().length, before, 'no file left in the store');
    assert.deepEqual(stored().filter((n) => n.endsWith('.part')), []);
    const list = await node.request('GET', `/api/file/chatroom/${roomId}`, { token: ann.accessToken });
    assert.ok(list.body.data.files.every((f: any) => f.size <= 10 * MB));
    // The connection is still good for the next upload.
    assert.equal((await upload(node, ann, Buffer.from('small'), { roomId })).status, 201);
  });

  it('keeps a room\'s files to its members: list (newest first), metadata, the latest 5 in the room detail', async () => {
    const room = await node.createRoom(bob, [ann]);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await upload(node, bob, Buffer.from(`file ${i}`), { roomId: room, name: `f${i}.txt`, type: 'text/plain' })).body.data.fileId);
    const list = await node.request('GET', `/api/file/chatroom/${room}`, { token: ann.accessToken });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.files.map((f: any) => f.fileId), [...ids].reverse());
    assert.equal((await node.request('GET', `/api/file/chatroom/${room}`, { token: eve.accessToken })).status, 403);
    assert.equal((await node.request('GET', '/api/file/chatroom/123', { token: eve.accessToken })).status, 404);
    const detail = await node.request('GET', `/api/chatroom/${room}`, { token: ann.accessToken });
    assert.deepEqual(detail.body.data.files.map((f: any) => f.fileId), [...ids].reverse().slice(0, 5));
    const meta = await node.request('GET', `/api/file/${ids[0]}`, { token: ann.accessToken });
    assert.equal(meta.status, 200);
    assert.equal(meta.body.data.title, 'f0.txt');
    assert.equal((await node.request('GET', `/api/file/${ids[0]}`, { token: eve.accessToken })).status, 403);
  });

  it('refuses a download without a valid signature (403) and an expired URL', async () => {
    const { body } = await upload(node, ann, Buffer.from('secret'), { roomId });
    const { fileId, url } = body.data;
    assert.equal((await fetch(`${node.baseUrl}/api/file/${fileId}/download`)).status, 403, 'no signature, even with the id');
    const forged = url.replace(/signature=[^&]+/, 'signature=AAAA');
    assert.equal((await fetch(forged)).status, 403);
    const extended = url.replace(/expires=\d+/, `expires=${Math.floor(Date.now() / 1000) + 999_999}`);
    assert.equal((await fetch(extended)).status, 403, 'the expiry is signed');
    const otherFile = (await upload(node, ann, Buffer.from('other'), { roomId })).body.data.fileId;
    assert.equal((await fetch(url.replace(`/${fileId}/`, `/${otherFile}/`))).status, 403, 'a signature is for one file');
    // A non-member with the bearer token of an account still needs the signature.
    assert.equal((await fetch(`${node.baseUrl}/api/file/${fileId}/download`, { headers: { authorization: `Bearer ${eve.accessToken}` } })).status, 403);

    const shortLived = await startNode({ config: { dataDir: mkdtempSync(join(tmpdir(), 'flametalk-files-ttl-')), fileUrlTtlSeconds: 1 } });
    try {
      const user = await shortLived.signUp('Tim');
      const file = (await upload(shortLived, user, Buffer.from('soon gone'))).body.data;
      assert.equal((await fetch(file.url)).status, 200);
      await new Promise((r) => setTimeout(r, 2_100));
      const expired = await fetch(file.url);
      assert.equal(expired.status, 403);
      assert.equal(((await expired.json()) as any).data.code, 'url_expired');
      const fresh = await shortLived.request('GET', `/api/file/${file.fileId}`, { token: user.accessToken });
      assert.equal((await fetch(fresh.body.data.url)).status, 200, 'the API hands out a fresh URL');
    } finally {
      await shortLived.stop();
    }
  });

  it('lets only the uploader delete a file', async () => {
    const { body } = await upload(node, ann, Buffer.from('to delete'), { roomId });
    const { fileId, url } = body.data;
    assert.equal((await node.request('DELETE', `/api/file/${fileId}`, { token: bob.accessToken })).status, 403);
    assert.equal((await node.request('DELETE', `/api/file/${fileId}`, { token: ann.accessToken })).status, 200);
    assert.equal((await node.request('GET', `/api/file/${fileId}`, { token: ann.accessToken })).status, 404);
    assert.equal((await fetch(url)).status, 404);
    assert.ok(!stored().includes(fileId));
  });

  it('checks uploads: a non-member cannot upload to a room, a file is required', async () => {
    assert.equal((await upload(node, eve, Buffer.from('x'), { roomId })).status, 403);
    const before = stored().length;
    assert.equal((await upload(node, eve, Buffer.from('x'), { roomId, roomAfter: true })).status, 403);
    assert.equal(stored().length, before, 'nothing kept when the room comes after the file and is refused');
    const late = await upload(node, bob, Buffer.from('late room'), { roomId, roomAfter: true });
    assert.equal(late.status, 201);
    assert.equal(late.body.data.roomId, roomId);
    assert.ok((await node.request('GET', `/api/file/chatroom/${roomId}`, { token: ann.accessToken })).body.data.files.some((f: any) => f.fileId === late.body.data.fileId));
    const form = new FormData();
    form.append('chatroomId', roomId);
    const noFile = await fetch(`${node.baseUrl}/api/file`, { method: 'POST', headers: { authorization: `Bearer ${ann.accessToken}` }, body: form });
    assert.equal(noFile.status, 400);
    assert.equal((await node.request('POST', '/api/file', { token: ann.accessToken, body: { file: 'x' } })).status, 415);
    assert.equal((await fetch(`${node.baseUrl}/api/file`, { method: 'POST', body: new FormData() })).status, 401);
  });

  it('sends FILE messages that name a file of the room, and refuses others', async () => {
    const { body } = await upload(node, ann, Buffer.from('photo'), { roomId });
    const elsewhere = await node.createRoom(ann, [eve]);
    const foreign = (await upload(node, ann, Buffer.from('other photo'), { roomId: elsewhere })).body.data;
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    try {
      await socket.join(roomId);
      const sent = await socket.call({ type: 'send', roomId, clientMsgId: 'f1', messageType: 'FILE', contents: 'photo.png', fileUrl: body.data.url });
      assert.equal(sent.type, 'ack', JSON.stringify(sent));
      const refused = await socket.call({ type: 'send', roomId, clientMsgId: 'f2', messageType: 'FILE', contents: 'x', fileUrl: foreign.url });
      assert.equal(refused.type, 'error');
      assert.equal(refused.code, 'file_not_in_room');
      const bogus = await socket.call({ type: 'send', roomId, clientMsgId: 'f3', messageType: 'FILE', contents: 'x', fileUrl: 'https://evil.example/x.png' });
      assert.equal(bogus.code, 'file_not_in_room');
      const history = await node.request('GET', `/api/chat/history/${roomId}`, { token: bob.accessToken });
      const inHistory = history.body.data.messages[0].fileUrl;
      assert.equal(inHistory.split('?')[0], body.data.url.split('?')[0], 'the same file, with a freshly signed URL');
      assert.equal((await fetch(inHistory)).status, 200);
    } finally {
      await socket.close();
    }
  });
});
