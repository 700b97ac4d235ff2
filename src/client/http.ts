import { FlametalkError } from './errors.ts';

export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

interface Envelope {
  status?: unknown;
  message?: unknown;
  data?: unknown;
}

/** The HTTP API's envelope `{status, message, data}` unwrapped: data on 2xx, a FlametalkError otherwise. */
export class HttpApi {
  constructor(private readonly baseUrl: string, private readonly fetchImpl: FetchLike) {}

  async request<T>(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let status: number;
    let text: string;
    try {
      const response = await this.fetchImpl(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new FlametalkError('network', `cannot reach ${this.baseUrl}: ${error instanceof Error ? error.message : String(error)}`, 0);
    }
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      throw new FlametalkError('bad_response', `${method} ${path} answered ${status} with a body that is not JSON`, status);
    }
    if (status >= 200 && status < 300) return envelope.data as T;
    const data = envelope.data as { code?: unknown } | null | undefined;
    const code = typeof data?.code === 'string' ? data.code : `http_${status}`;
    const message = typeof envelope.message === 'string' ? envelope.message : `${method} ${path} failed with ${status}`;
    throw new FlametalkError(code, message, status);
  }
}
