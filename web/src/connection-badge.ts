import type { ConnectionState, FlametalkClient } from '../../src/client/index.ts';
import { h } from './dom.ts';

const LABELS: Record<ConnectionState, string> = {
  idle: 'Offline',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Closed',
};

/** The realtime connection's state, and how many sends wait for the server, in the top bar. */
export function connectionBadge(client: FlametalkClient): { element: HTMLElement; update(): void } {
  const element = h('span', { id: 'connection', role: 'status' });
  const update = (): void => {
    const { state, pendingSends } = client;
    element.dataset.state = state;
    element.textContent = pendingSends > 0 ? `${LABELS[state]} · ${pendingSends} waiting to send` : LABELS[state];
  };
  update();
  return { element, update };
}
