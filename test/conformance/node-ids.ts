import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { NodeIdRegistry } from '../../src/infra/ports/node-ids.ts';
import { waitFor } from '../support/wait.ts';

/** Registries of several nodes sharing one backend. */
export interface NodeIdCluster {
  node(options?: { leaseMs?: number }): Promise<NodeIdRegistry>;
  /** Takes a node's id away from it, as if another node had taken it over. */
  steal(nodeId: number): Promise<void>;
  close(): Promise<void>;
}

export function nodeIdConformance(name: string, open: () => Promise<NodeIdCluster>): void {
  describe(`node-id registry conformance: ${name}`, () => {
    let cluster: NodeIdCluster;
    afterEach(() => cluster.close());

    it('gives live nodes different ids, and an asked-for id only when it is free', async () => {
      cluster = await open();
      const [a, b] = [await cluster.node(), await cluster.node()];
      const first = await a.acquire();
      const second = await b.acquire();
      assert.notEqual(first.nodeId, second.nodeId);
      await assert.rejects(b.acquire(first.nodeId), /held by another/);
      await first.release();
      const again = await b.acquire(first.nodeId);
      assert.equal(again.nodeId, first.nodeId, 'a released id can be taken at once');
      await Promise.all([second.release(), again.release()]);
    });

    it('keeps an id held while its node renews it, and tells the node when it was lost', async () => {
      cluster = await open();
      const registry = await cluster.node({ leaseMs: 300 });
      const lease = await registry.acquire();
      let lost = false;
      lease.onLost(() => (lost = true));
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(lost, false, 'renewed beyond its lease');
      await assert.rejects((await cluster.node()).acquire(lease.nodeId), /held by another/);
      await cluster.steal(lease.nodeId);
      await waitFor(() => lost, 'the node hears that its id is gone');
      await lease.release();
    });
  });
}
