import { MAX_NODE_ID } from '../../chat/snowflake.ts';
import type { NodeIdLease, NodeIdRegistry } from '../ports/node-ids.ts';

/** The node ids held by the in-process nodes of one process, with whom to tell when one is taken away. */
export class MemoryNodeIdHub {
  readonly held = new Map<number, Array<() => void>>();

  /** Takes an id from its holder (an operator's intervention, or a test's). */
  revoke(nodeId: number): void {
    const listeners = this.held.get(nodeId) ?? [];
    this.held.set(nodeId, []);
    for (const listener of listeners) listener();
  }
}

/** In-process node ids: enough for embedded mode (one node, and its data directory lock keeps a second process out). */
export class MemoryNodeIds implements NodeIdRegistry {
  constructor(private readonly hub: MemoryNodeIdHub = new MemoryNodeIdHub()) {}

  async acquire(preferred?: number): Promise<NodeIdLease> {
    const candidates = preferred !== undefined ? [preferred] : Array.from({ length: MAX_NODE_ID + 1 }, (_, i) => i);
    const nodeId = candidates.find((id) => !this.hub.held.has(id));
    if (nodeId === undefined) throw new Error(preferred !== undefined ? `node id ${preferred} is held by another node` : 'every node id is held');
    const listeners: Array<() => void> = [];
    this.hub.held.set(nodeId, listeners);
    return {
      nodeId,
      onLost: (listener) => void listeners.push(listener),
      release: async () => {
        if (this.hub.held.get(nodeId) === listeners) this.hub.held.delete(nodeId);
      },
    };
  }
}
