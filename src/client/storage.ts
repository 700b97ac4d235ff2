/**
 * Where the SDK keeps the device's session (user id, nickname and the rotating refresh token) so a
 * reload can resume it. Synchronous or asynchronous (React Native's AsyncStorage) both work.
 */
export interface TokenStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** The default: the session lives as long as the client object. */
export function memoryStorage(): TokenStorage {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key),
    set: (key, value) => void values.set(key, value),
    remove: (key) => void values.delete(key),
  };
}

/** The part of the Web Storage API the adapter needs. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Keeps the session in the browser's `localStorage` (or any Web Storage object passed in). */
export function localStorageAdapter(storage?: WebStorageLike): TokenStorage {
  const target = storage ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
  if (!target) throw new TypeError('localStorageAdapter: no localStorage here; pass a Web Storage object');
  return {
    get: (key) => target.getItem(key),
    set: (key, value) => target.setItem(key, value),
    remove: (key) => target.removeItem(key),
  };
}
