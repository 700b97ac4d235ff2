import uWS from 'uWebSockets.js';

/**
 * The ceiling: bare uWebSockets.js topic pub/sub speaking flametalk's native frames (join,
 * send → ack + message to the others in the room, ping), with no auth, actors, bus or storage.
 * Same transport limits as flametalk (1 MiB outbound buffer, then the socket is closed).
 */

if (!String(uWS.App).includes('[native code]')) throw new Error('uWebSockets.js native binary did not load');

interface Command {
  type: string;
  ref?: string;
  roomId?: string;
  clientMsgId?: string;
  messageType?: string;
  contents?: string;
}

const utf8 = new TextDecoder();
let nextId = BigInt(Date.now()) << 22n;

const app = uWS.App();
app.ws<Record<string, never>>('/ws', {
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  closeOnBackpressureLimit: 1,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  message(ws, data) {
    let command: Command;
    try {
      command = JSON.parse(utf8.decode(data)) as Command;
    } catch {
      ws.send('{"type":"error","code":"bad_json","message":"a frame must be one JSON object"}');
      return;
    }
    const { ref, roomId } = command;
    switch (command.type) {
      case 'join':
        ws.subscribe(`room:${roomId}`);
        ws.send(JSON.stringify({ type: 'joined', ref, roomId, present: [], missed: [], recovered: true }));
        return;
      case 'leave':
        ws.unsubscribe(`room:${roomId}`);
        ws.send(JSON.stringify({ type: 'left', ref, roomId }));
        return;
      case 'send': {
        const messageId = String(nextId++);
        const createdAt = new Date().toISOString();
        const message = {
          messageId, messageType: command.messageType, senderId: '1', nickname: 'bench', roomId,
          contents: command.contents, fileUrl: null, createdAt,
        };
        // ws.publish skips the sender, like flametalk's delivery "to everyone in the room but the sending socket".
        ws.publish(`room:${roomId}`, JSON.stringify({ type: 'message', roomId, message }), false);
        ws.send(JSON.stringify({ type: 'ack', ref, clientMsgId: command.clientMsgId, messageId, createdAt }));
        return;
      }
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong', ref }));
        return;
      default:
        ws.send(JSON.stringify({ type: 'error', ref, code: 'unknown_type', message: 'unknown frame type' }));
    }
  },
});

app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (socket) => {
  if (!socket) throw new Error('uws-bare: cannot listen');
  process.stdout.write(`${JSON.stringify({ msg: 'listening', wsPort: uWS.us_socket_local_port(socket) })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
