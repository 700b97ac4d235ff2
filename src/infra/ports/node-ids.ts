/** This node's snowflake node id, held under a lease no other live node can hold at the same time. */
export interface NodeIdLease {
  readonly nodeId: number;
  /** Called once if the lease is lost (not renewed in time): the node must stop making ids. */
  onLost(listener: () => void): void;
  /** Gives the id back. */
  release(): Promise<void>;
}

/** Hands out node ids so that two live nodes never make the same message, user or room id. */
export interface NodeIdRegistry {
  /** The given id, or any free one; rejects when it (or every id) is held by live nodes. */
  acquire(preferred?: number): Promise<NodeIdLease>;
}
