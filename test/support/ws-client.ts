import WebSocket from 'ws';

export type Frame = Record<string, any>;

/** A native-protocol client over a real socket, recording every frame it receives. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void }> = [];
  private refs = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      // Nothing more will arrive: whoever waits for a frame learns it now, not at its timeout.
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`socket closed (${code}) before the frame arrived`));
      resolve({ code, reason: reason.toString() });
    }));
  }

  /** Connects with a bearer header (or `?access_token=` when `via` is 'query'); rejects with the HTTP status on a refused upgrade. */
  static connect(url: string, token: string | undefined, via: 'header' | 'query' = 'header'): Promise<TestSocket> {
    const target = token && via === 'query' ? `${url}?access_token=${encodeURIComponent(token)}` : url;
    const headers = token && via === 'header' ? { authorization: `Bearer ${token}` } : {};
    const ws = new WebSocket(target, { headers, perMessageDeflate: false });
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }));
      });
      ws.once('error', reject);
    });
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a command with a fresh ref and waits for the frame answering it. */
  async call(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    const ref = `r${++this.refs}`;
    const reply = this.next((f) => f.ref === ref, timeoutMs, `reply to ${frame.type}`);
    this.send({ ...frame, ref });
    return reply;
  }

  /** The first frame matching `match` received after this call (or already received, with `fromStart`). */
  next(match: (frame: Frame) => boolean, timeoutMs = 10_000, what = 'a frame', fromStart = false): Promise<Frame> {
    if (fromStart) {
      const found = this.frames.find(match);
      if (found) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === this.ws.CLOSED) return reject(new Error(`socket closed before ${what} arrived`));
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      const done = (f: Frame): void => {
        clearTimeout(timer);
        resolve(f);
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        reject(error);
      };
      this.waiters.push({ match, resolve: done, reject: fail });
    });
  }

  of(type: string, roomId?: string): Frame[] {
    return this.frames.filter((f) => f.type === type && (roomId === undefined || f.roomId === roomId));
  }

  async join(roomId: string, since?: string): Promise<Frame> {
    const reply = await this.call({ type: 'join', roomId, ...(since ? { since } : {}) });
    if (reply.type !== 'joined') throw new Error(`join failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async sendText(roomId: string, contents: string, clientMsgId = `c-${Math.random().toString(36).slice(2)}`): Promise<Frame> {
    return this.call({ type: 'send', roomId, clientMsgId, messageType: 'TALK', contents });
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
