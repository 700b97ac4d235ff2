import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MessageDto } from '../../src/client/index.ts';
import { ProcessNode } from '../support/process-node.ts';
import { portsForRestart } from '../support/restart-ports.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TcpProxy, clientOf, received, signUp, wholeHistory } from './support.ts';

const contents = (messages: MessageDto[]): string[] => messages.map((m) => m.contents);

/**
 * The embedded default (SQLite under DATA_DIR) as `npm start` runs it, killed with SIGKILL and
 * started again on the same data directory and ports under two SDK clients.
 */
describe('client SDK: the server process is killed and started again', { timeout: 180_000 }, () => {
  const cleanups: Array<() => unknown> = [];
  const nodes: ProcessNode[] = [];
  let dataDir: string | undefined;
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    for (const node of nodes) await node.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('both clients reconnect, each gets exactly what it missed once and in order, and the sends queued meanwhile are stored once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flametalk-client-restart-'));
    dataDir = dir;
    const start = async (ports: { httpPort: number; wsPort: number }, name: string): Promise<ProcessNode> => {
      const node = await ProcessNode.start({
        DATA_DIR: dir, HTTP_PORT: String(ports.httpPort), WS_PORT: String(ports.wsPort),
        LOG_LEVEL: 'info', LOG_PRETTY: 'false', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000',
      }, { name });
      nodes.push(node);
      return node;
    };
    const ports = await portsForRestart();
    const first = await start(ports, 'embedded-0');
    // Bob's socket goes through a relay the test can hold shut, so that he is sure to miss what Ann
    // sends once the server is back.
    const relay = await TcpProxy.start(first.wsPort);
    cleanups.push(() => relay.close());
    const annClient = clientOf(first, 'ann-phone');
    const bobClient = clientOf(first, 'bob-phone', { wsUrl: `ws://127.0.0.1:${relay.port}/ws` });
    cleanups.push(() => annClient.close(), () => bobClient.close());
    const [, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
    const { roomId } = await annClient.createRoom({ users: [bob.userId] });
    const annRoom = await annClient.join(roomId);
    const bobRoom = await bobClient.join(roomId);
    const [toAnn, toBob] = [received(annRoom), received(bobRoom)];
    await annRoom.send('before the kill');
    await bobRoom.send('hi Ann');
    await waitFor(() => toAnn.length === 2 && toBob.length === 2, 'both have both messages');

    first.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    await waitFor(() => annClient.state === 'reconnecting' && bobClient.state === 'reconnecting', 'both clients notice');
    relay.cut();
    const annQueued = annRoom.send('Ann wrote offline');
    const bobQueued = bobRoom.send('Bob wrote offline');
    assert.equal(annClient.pendingSends, 1);
    assert.equal(bobClient.pendingSends, 1);

    await start(ports, 'embedded-1');
    await annQueued; // Ann is back: her queued send went out
    for (let i = 1; i <= 3; i++) await annRoom.send(`missed ${i}`);
    await sleep(300); // Bob's retries meanwhile fail at the relay
    assert.equal(bobClient.state, 'reconnecting');
    assert.deepEqual(contents(toBob), ['before the kill', 'hi Ann'], 'nothing reaches Bob while he is away');

    relay.restore();
    await bobQueued;
    const everything = ['before the kill', 'hi Ann', 'Ann wrote offline', 'missed 1', 'missed 2', 'missed 3', 'Bob wrote offline'];
    await waitFor(() => toAnn.length >= everything.length && toBob.length >= everything.length, 'both caught up');
    await sleep(300); // anything late would be a duplicate
    assert.deepEqual(contents(toBob), everything);
    assert.deepEqual(contents(toAnn), everything);
    const history = await wholeHistory(annClient, roomId);
    assert.deepEqual(contents(history), everything, 'stored once each, the queued sends included');
    assert.deepEqual(toBob.map((m) => m.messageId), history.map((m) => m.messageId));
    assert.deepEqual(toAnn.map((m) => m.messageId), history.map((m) => m.messageId));
    assert.equal(annClient.state, 'connected');
    assert.equal(bobClient.state, 'connected');
    assert.equal(annClient.pendingSends + bobClient.pendingSends, 0);
  });
});
