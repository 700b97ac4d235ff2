import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { ProcessCluster, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';

/** Two `npm start` processes sharing Redis, Kafka, Cassandra and an S3 bucket: a file uploaded on one downloads from the other. */
describe('files in a two-node cluster (S3)', { timeout: 180_000 }, () => {
  let cluster: ProcessCluster;
  let a: ProcessNode;
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    cluster = new ProcessCluster({
      S3_ENDPOINT: backendAddress('S3_ENDPOINT'), S3_BUCKET: uniqueName('ft-files').toLowerCase().replaceAll('_', '-'),
      S3_ACCESS_KEY_ID: 'test', S3_SECRET_ACCESS_KEY: 'test',
    });
    [a, b] = await cluster.startAll(['A', 'B']);
    [ann, bob] = await Promise.all([a.signUp('Ann'), b.signUp('Bob')]);
    roomId = await a.createRoom(ann, [bob]);
  });
  after(async () => cluster?.cleanup());

  it('serves a file uploaded on node A from node B, whole and by range; metadata and lists agree', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const form = new FormData();
    form.append('chatroomId', roomId);
    form.append('file', new Blob([data], { type: 'image/png' }), 'cluster.png');
    const uploaded = await fetch(`${a.baseUrl}/api/file`, { method: 'POST', headers: { authorization: `Bearer ${ann.accessToken}` }, body: form });
    const body = await uploaded.json() as any;
    assert.equal(uploaded.status, 201, body.message);
    const { fileId, url } = body.data;

    const onB = url.replace(a.baseUrl, b.baseUrl);
    assert.notEqual(onB, url);
    const download = await fetch(onB);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), 'byte for byte from the other node');
    const range = await fetch(onB, { headers: { range: 'bytes=5242870-5242889' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(5242870, 5242890)), 'across the part boundary');

    const meta = await b.request('GET', `/api/file/${fileId}`, { token: bob.accessToken });
    assert.equal(meta.status, 200);
    assert.equal(meta.body.data.size, data.length);
    const list = await b.request('GET', `/api/file/chatroom/${roomId}`, { token: bob.accessToken });
    assert.deepEqual(list.body.data.files.map((f: any) => f.fileId), [fileId]);
    // Deleted on B, gone on A.
    assert.equal((await b.request('DELETE', `/api/file/${fileId}`, { token: ann.accessToken })).status, 200);
    assert.equal((await fetch(url)).status, 404);
  });
});
