import { localStorageAdapter, type TokenStorage } from '../../src/client/index.ts';

/**
 * Each tab is its own device: the refresh token rotates on every use, and two tabs sharing one
 * would look like a stolen token to the server (which then signs the device out everywhere).
 * sessionStorage is per tab and survives a reload, so a reload resumes the same session.
 */
export function tabStorage(): TokenStorage {
  return localStorageAdapter(window.sessionStorage);
}

export function tabDeviceId(): string {
  const key = 'flametalk.deviceId';
  let id = window.sessionStorage.getItem(key);
  if (!id) {
    id = `web-${crypto.randomUUID()}`;
    window.sessionStorage.setItem(key, id);
  }
  return id;
}
