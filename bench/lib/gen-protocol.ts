import type { LatencySummary } from './histogram.ts';

/** Messages between the harness and a load-generator process (over the Node IPC channel). */

/** `native`: flametalk's /ws protocol (also spoken by the bare uWS peer); `socketio`: Engine.IO 4 / Socket.IO 5 frames. */
export type Protocol = 'native' | 'socketio';

export interface ClientSpec {
  url: string;
  protocol: Protocol;
  /** Rooms joined after connecting (one per socket in every scenario so far). */
  rooms: string[];
  /** Source address (127.0.0.x), to spread sockets over loopback ports. */
  localAddress?: string;
  /** Latency is also summarised per group (cluster: `same-node` / `cross-node`). */
  group?: string;
  /** Index of the server node this socket connects to (cluster): messages are counted per node of their room. */
  node?: number;
}

export interface OpenRequest {
  clients: ClientSpec[];
  /** Connections in flight at once. */
  concurrency: number;
  /** Wait for one application round trip after the upgrade (ping/pong, Socket.IO CONNECT). */
  roundTrip: boolean;
}

export interface OpenResult {
  opened: number;
  failed: number;
  /** Failure kinds (HTTP status of a refused upgrade, error code) → count. */
  failures: Record<string, number>;
  /** process.hrtime (CLOCK_MONOTONIC), ms: comparable across processes of this host. */
  startedAt: number;
  connectedAt: number;
  joinedAt: number;
}

export interface LoadRequest {
  /** Indexes (into the opened clients) of the sockets that send, used round-robin. */
  senders: number[];
  /** Messages per second over all senders. */
  rate: number;
  durationMs: number;
  /** Longest wait after the window for deliveries still in flight (it ends after 2 s without any). */
  drainMs: number;
  /** Length of each message's contents (the timestamp marker included). */
  contentBytes: number;
}

export interface LoadResult {
  sent: number;
  acked: number;
  /** Deliveries the room sizes call for: Σ over sent messages of (sockets in its room − the sender). */
  expected: number;
  delivered: number;
  /** Delivered before the sending window closed. */
  deliveredInWindow: number;
  windowMs: number;
  /** Sending window plus the drain actually waited. */
  elapsedMs: number;
  /** From the time each message was scheduled to be sent (the offered rate), not when it left. */
  latency: LatencySummary;
  latencyByGroup: Record<string, LatencySummary>;
  ackLatency: LatencySummary;
  /** How late the generator sent each message after its scheduled time. */
  sendLag: LatencySummary;
  /** Messages sent into rooms with at least one socket on node n, by node index. */
  sentByNode: number[];
  /** CPU seconds this generator process used during the call. */
  generatorCpuSeconds: number;
  /** …of which in the kernel (receiving over loopback). */
  generatorSystemSeconds: number;
  /** Per-client events seen during the call. */
  events: Record<string, number>;
}

export interface CloseResult {
  closed: number;
}

export type Request =
  | { id: number; op: 'open'; args: OpenRequest }
  | { id: number; op: 'load'; args: LoadRequest }
  | { id: number; op: 'status'; args: Record<string, never> }
  | { id: number; op: 'close'; args: Record<string, never> };

export interface StatusResult {
  open: number;
  /** Everything unexpected since the start: close codes, error frames, socket errors. */
  events: Record<string, number>;
  samples: string[];
}

export type Reply = { id: number; result: unknown } | { id: number; error: string };
