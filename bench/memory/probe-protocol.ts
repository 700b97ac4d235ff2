/** Requests from the memory bench to the probe inside the flametalk process (over the Node IPC channel). */
export type ProbeRequest =
  | { probe: true; id: number; op: 'measure' }
  /** Also writes a heap snapshot to `path`. */
  | { probe: true; id: number; op: 'snapshot'; path: string };

/** Figures after two full garbage collections (process.memoryUsage()), bytes. */
export interface HeapFigures {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export type ProbeReply = ({ id: number; snapshot?: string } & HeapFigures) | { id: number; error: string };
