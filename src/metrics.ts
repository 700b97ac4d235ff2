import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per server, so that several servers can live in one process (embedding, tests). */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'flametalk_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly rooms = new Gauge({ name: 'flametalk_active_rooms', help: 'Room actors alive on this node', registers: [this.registry] });
  readonly messagesIn = new Counter({ name: 'flametalk_messages_in_total', help: 'Messages accepted from clients on this node', registers: [this.registry] });
  readonly messagesOut = new Counter({ name: 'flametalk_messages_out_total', help: 'Room events published to local sockets (one uWS publish each)', registers: [this.registry] });
  readonly fanout = new Counter({ name: 'flametalk_fanout_deliveries_total', help: 'Socket deliveries of room events (publishes times subscribers)', registers: [this.registry] });
  readonly framesRejected = new Counter({ name: 'flametalk_frames_rejected_total', help: 'Client frames answered with an error', labelNames: ['code'], registers: [this.registry] });
  readonly pushes = new Counter({ name: 'flametalk_push_results_total', help: 'Push notifications by outcome', labelNames: ['outcome'], registers: [this.registry] });
  /** Asked at scrape time, so that lag costs nothing between scrapes. */
  busLagProbe: () => Promise<number> = async () => 0;
  readonly busLag = new Gauge({
    name: 'flametalk_bus_lag_events', help: 'Room events published but not yet handled by this node', registers: [this.registry],
    collect: async () => {
      this.busLag.set(await this.busLagProbe().catch(() => Number.NaN));
    },
  });
  /** Asked at scrape time: the sum of every socket's outbound buffer. */
  bufferedBytesProbe: () => number = () => 0;
  readonly bufferedBytes = new Gauge({
    name: 'flametalk_outbound_buffered_bytes', help: 'Bytes queued for slow clients across all sockets', registers: [this.registry],
    collect: () => {
      this.bufferedBytes.set(this.bufferedBytesProbe());
    },
  });
  readonly sendLatency = new Histogram({
    name: 'flametalk_send_ack_seconds', help: 'From a send frame to its ack (durable on the bus)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly httpLatency = new Histogram({
    name: 'flametalk_http_request_seconds', help: 'HTTP request durations', labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    // No prefix: dashboards and alerts expect the standard process_* and nodejs_* names.
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
