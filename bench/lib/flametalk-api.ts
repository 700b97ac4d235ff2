import { randomUUID } from 'node:crypto';

/** What a benchmark needs of flametalk's HTTP API: accounts (and their access tokens) and rooms. */

export interface BenchUser {
  userId: string;
  accessToken: string;
}

async function post<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { data: T }).data;
}

async function pool<T>(count: number, concurrency: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await work(index);
    }
  }));
  return results;
}

/** Signs up `count` users. Each costs a scrypt hash (~100 ms): benchmarks share few users over many sockets. */
export function signUpUsers(httpUrl: string, count: number): Promise<BenchUser[]> {
  const run = randomUUID().slice(0, 8);
  return pool(count, 4, (i) => post<BenchUser>(`${httpUrl}/api/auth/signup`, {
    email: `bench-${run}-${i}@example.com`, password: 'bench password 123', nickname: `bench${i}`, deviceId: 'bench',
  }));
}

/** Creates `count` rooms owned by `owner` with `members` in each; returns their ids. */
export function createRooms(httpUrl: string, owner: BenchUser, members: BenchUser[], count: number): Promise<string[]> {
  return pool(count, 16, async (i) => {
    const room = await post<{ roomId: string }>(`${httpUrl}/api/chatroom`, { users: members.map((m) => m.userId), title: `bench ${i}` }, owner.accessToken);
    return room.roomId;
  });
}
