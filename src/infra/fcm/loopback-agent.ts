import { Agent, type RequestOptions } from 'node:https';
import { connect, type Socket } from 'node:net';

/** Sends every connection to the fake's port, whatever host (oauth2/fcm.googleapis.com) is asked
 *  for. Exported for a fake running in another process: `new LoopbackAgent(itsPort)`. */
export class LoopbackAgent extends Agent {
  constructor(private readonly port: number) {
    // The legacy transport fires a whole batch at once. Measured on 2 CPUs, a warm 500-message
    // batch took 30-45 ms through 1 to 32 keep-alive sockets and ~75 ms through an unbounded pool
    // (500 connections): the fake answers at once, so a few sockets are enough.
    super({ keepAlive: true, maxSockets: 8 });
  }

  override createConnection(_options: RequestOptions): Socket {
    return connect(this.port, '127.0.0.1');
  }
}
