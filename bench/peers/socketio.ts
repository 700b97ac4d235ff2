import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';

/**
 * The Socket.IO 4 peer: rooms, the same chat frames as flametalk (`send` acked, `message` to the
 * others in the room), WebSocket transport only. With REDIS_URL it uses the Redis adapter, so
 * several of these processes share rooms (the cluster scenario). No auth.
 */

interface SendCommand {
  roomId: string;
  clientMsgId: string;
  messageType: string;
  contents: string;
}

type Ack = (reply: unknown) => void;

const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
});

if (process.env.REDIS_URL) {
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub, { key: process.env.REDIS_PREFIX ?? 'socket.io' }));
}

let nextId = BigInt(Date.now()) << 22n;

io.on('connection', (socket) => {
  socket.on('join', (roomId: string, ack?: Ack) => {
    void socket.join(roomId);
    ack?.({ type: 'joined', roomId, present: [], missed: [], recovered: true });
  });
  socket.on('leave', (roomId: string, ack?: Ack) => {
    void socket.leave(roomId);
    ack?.({ type: 'left', roomId });
  });
  socket.on('send', (command: SendCommand, ack?: Ack) => {
    const messageId = String(nextId++);
    const createdAt = new Date().toISOString();
    const message = {
      messageId, messageType: command.messageType, senderId: '1', nickname: 'bench', roomId: command.roomId,
      contents: command.contents, fileUrl: null, createdAt,
    };
    socket.to(command.roomId).emit('message', { type: 'message', roomId: command.roomId, message });
    ack?.({ type: 'ack', clientMsgId: command.clientMsgId, messageId, createdAt });
  });
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', wsPort: port })}\n`);
});
process.once('SIGTERM', () => {
  void io.close();
  process.exit(0);
});
