import net from 'node:net';

const LOWEST = 20_000;
/** Linux hands out ports from 32768 up for port 0 and for outgoing connections. */
const BELOW_EPHEMERAL = 32_768;

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * An HTTP and a WebSocket port free now, for a server process that is killed and started again on the same ports.
 * They must not come from port 0: Linux refuses to bind a port it picked for port 0 again while the
 * killed process's connections linger in TIME_WAIT (a minute), SO_REUSEADDR or not. Ports below the
 * ephemeral range also cannot be taken meanwhile by some outgoing connection.
 */
export async function portsForRestart(): Promise<{ httpPort: number; wsPort: number }> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < 2; attempt++) {
    if (attempt > 200) throw new Error(`no two free ports found between ${LOWEST} and ${BELOW_EPHEMERAL}`);
    const port = LOWEST + Math.floor(Math.random() * (BELOW_EPHEMERAL - LOWEST));
    if (!ports.includes(port) && await listenable(port)) ports.push(port);
  }
  const [httpPort, wsPort] = ports as [number, number];
  return { httpPort, wsPort };
}
