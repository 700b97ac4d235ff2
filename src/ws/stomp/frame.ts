/**
 * STOMP 1.2 frames (https://stomp.github.io/stomp-specification-1.2.html): a command line,
 * header lines, a blank line, a body and a NUL. Bytes, not strings: `content-length` counts bytes.
 */

export interface StompFrame {
  command: string;
  /** The first occurrence of a repeated header wins (STOMP 1.2 §"Repeated Header Entries"). */
  headers: Map<string, string>;
  body: Uint8Array;
}

export class StompSyntaxError extends Error {}

/** Frames a client may send. */
export const CLIENT_COMMANDS = new Set(['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT']);

const MAX_HEADERS = 64;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

function unescape(value: string): string {
  if (!value.includes('\\')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = value[++i];
    if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else if (next === 'c') out += ':';
    else if (next === '\\') out += '\\';
    // STOMP 1.2: an undefined escape sequence is a fatal protocol error.
    else throw new StompSyntaxError(`undefined escape sequence in a header: \\${next ?? ''}`);
  }
  return out;
}

export function escapeHeader(value: string): string {
  return /[\\\r\n:]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c')
    : value;
}

/**
 * Incremental parser of one connection's byte stream: several frames in one WebSocket message,
 * a frame split across messages, heart-beat EOLs between frames. Bytes held for an unfinished
 * frame never exceed `maxFrameBytes`.
 */
export class StompParser {
  private pending: Uint8Array = EMPTY;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes waiting for the rest of their frame. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Appends bytes; returns the frames they completed and the heart-beats seen. Throws StompSyntaxError. */
  push(chunk: Uint8Array): { frames: StompFrame[]; heartbeats: number } {
    let data: Uint8Array;
    if (this.pending.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    const frames: StompFrame[] = [];
    let heartbeats = 0;
    let pos = 0;
    for (;;) {
      // EOLs between frames are heart-beats.
      while (pos < data.length && (data[pos] === LF || (data[pos] === CR && data[pos + 1] === LF))) {
        pos += data[pos] === CR ? 2 : 1;
        heartbeats++;
      }
      if (pos >= data.length) break;
      const parsed = this.parseFrame(data, pos);
      if (!parsed) break;
      frames.push(parsed.frame);
      pos = parsed.end;
    }
    const rest = data.subarray(pos);
    if (rest.length > this.maxFrameBytes) throw new StompSyntaxError(`frame larger than ${this.maxFrameBytes} bytes`);
    // Copied: the caller's buffer (uWS's ArrayBuffer) is only valid during its callback.
    this.pending = rest.length === 0 ? EMPTY : rest.slice();
    return { frames, heartbeats };
  }

  /** One frame starting at `start`, or undefined when its end has not arrived yet. */
  private parseFrame(data: Uint8Array, start: number): { frame: StompFrame; end: number } | undefined {
    const lines: string[] = [];
    let pos = start;
    for (;;) {
      const lf = data.indexOf(LF, pos);
      if (lf < 0) return undefined;
      const lineEnd = lf > pos && data[lf - 1] === CR ? lf - 1 : lf;
      let line: string;
      try {
        line = utf8.decode(data.subarray(pos, lineEnd));
      } catch {
        throw new StompSyntaxError('a frame\'s command and headers must be UTF-8');
      }
      pos = lf + 1;
      if (line === '') {
        if (lines.length === 0) continue;
        break;
      }
      lines.push(line);
      if (lines.length > MAX_HEADERS + 1) throw new StompSyntaxError(`a frame may have at most ${MAX_HEADERS} headers`);
    }
    const command = lines[0]!;
    if (!CLIENT_COMMANDS.has(command)) throw new StompSyntaxError(`unknown command ${JSON.stringify(command.slice(0, 32))}`);
    // CONNECT frames are not escaped (STOMP 1.2 §"Value Encoding"), so 1.0 clients keep working.
    const escaped = command !== 'CONNECT' && command !== 'STOMP';
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new StompSyntaxError(`malformed header line ${JSON.stringify(line.slice(0, 32))}`);
      const name = escaped ? unescape(line.slice(0, colon)) : line.slice(0, colon);
      const value = escaped ? unescape(line.slice(colon + 1)) : line.slice(colon + 1);
      if (!headers.has(name)) headers.set(name, value);
    }
    const length = headers.get('content-length');
    if (length !== undefined) {
      if (!/^[0-9]{1,9}$/.test(length)) throw new StompSyntaxError('content-length must be a number of bytes');
      const bytes = Number(length);
      if (bytes > this.maxFrameBytes) throw new StompSyntaxError(`frame larger than ${this.maxFrameBytes} bytes`);
      if (data.length < pos + bytes + 1) return undefined;
      if (data[pos + bytes] !== NUL) throw new StompSyntaxError('the body is not followed by NUL where content-length says it ends');
      return { frame: { command, headers, body: data.slice(pos, pos + bytes) }, end: pos + bytes + 1 };
    }
    const nul = data.indexOf(NUL, pos);
    if (nul < 0) return undefined;
    return { frame: { command, headers, body: data.slice(pos, nul) }, end: nul + 1 };
  }
}

/** A server frame as text (what uWS sends in one WebSocket text message). */
export function encodeFrame(command: string, headers: Record<string, string | number | undefined>, body = ''): string {
  // CONNECTED is not escaped, like CONNECT.
  const escaped = command !== 'CONNECTED';
  let head = `${command}\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    head += escaped ? `${escapeHeader(name)}:${escapeHeader(String(value))}\n` : `${name}:${value}\n`;
  }
  if (body.length > 0) head += `content-length:${Buffer.byteLength(body)}\n`;
  return `${head}\n${body}\0`;
}
