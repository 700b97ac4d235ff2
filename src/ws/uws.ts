import uWS from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';

/**
 * uWebSockets.js, refusing its silent fallback: when the native binary does not load for this
 * Node build, the package swaps in a slow JavaScript server, which would break every promise
 * this server makes about speed and memory.
 */
export function nativeUws(): typeof uWS {
  const app = uWS.App as unknown;
  if (typeof uWS.SSLApp !== 'function' || typeof app !== 'function' || !Function.prototype.toString.call(app).includes('[native code]')) {
    throw new Error(
      `uWebSockets.js did not load its native binary for Node ${process.version} (ABI ${process.versions.modules}) on ` +
        `${process.platform}-${process.arch}; flametalk needs Node 20 on Linux x64/arm64, macOS or Windows x64`,
    );
  }
  return uWS;
}
