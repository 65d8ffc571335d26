// Prometheus metrics, declared once with typed label names (ztunnel proxy/metrics.rs).
// Two feeds: connection events (counted when a connection closes, together with its
// access-log line, since both subscribe to braid:conn:close) and the native snapshot, read
// at scrape time through collect() so native counters never need a timer.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataplaneSnapshot } from '../dataplane/types';
import { subscribe } from './events';
import { pathName, type PathForAddress } from './paths';

export interface MetricsOptions {
  /** The native data plane's snapshot; called at most once per scrape. */
  snapshot: () => DataplaneSnapshot;
  pathForAddress: PathForAddress;
}

/** How one config reload ended (see src/reload/reloader.ts). */
export const RELOAD_RESULTS = ['ok', 'invalid', 'failed', 'restart-required', 'unchanged'] as const;
export type ReloadResult = (typeof RELOAD_RESULTS)[number];

export interface Metrics {
  registry: Registry;
  /** Count one config reload; 'ok' also stamps the last-success gauge. */
  reloaded(result: ReloadResult): void;
  /** Unsubscribe from the event channels and drop every metric. Idempotent. */
  dispose(): void;
}

/** Connect-time histogram buckets in seconds: 100 us (loopback) to 10 s (connect timeout). */
export const CONNECT_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Turns monotonic totals read from native code into counter increments. A total that went
 *  down means its source started over, so the whole new total is new. */
export class DeltaTracker {
  private readonly last = new Map<string, number>();

  delta(key: string, total: number): number {
    const previous = this.last.get(key) ?? 0;
    this.last.set(key, total);
    return total >= previous ? total - previous : total;
  }
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'braid_' });
  const registers = [registry];

  // One snapshot per scrape: prom-client runs every collect() in the same synchronous pass,
  // so the cache lives until the next microtask. If that ever changes, each collect() simply
  // takes its own snapshot; all snapshot-fed values stay correct.
  let cached: DataplaneSnapshot | undefined;
  const scrapeSnapshot = (): DataplaneSnapshot => {
    if (cached === undefined) {
      cached = options.snapshot();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  // Series seen once stay exported at 0 instead of vanishing when their last member closes.
  const knownListeners = new Set<string>();
  const knownPaths = new Set<string>();

  const connectionsActive = new Gauge<'listener'>({
    name: 'braid_connections_active',
    help: 'Connections open now (accepted, not yet closed), per listener; read from the data plane at scrape',
    labelNames: ['listener'] as const,
    registers,
    collect() {
      const counts = new Map<string, number>();
      for (const listener of knownListeners) counts.set(listener, 0);
      for (const conn of scrapeSnapshot().connections) {
        counts.set(conn.listener, (counts.get(conn.listener) ?? 0) + 1);
        knownListeners.add(conn.listener);
      }
      connectionsActive.reset();
      for (const [listener, count] of counts) connectionsActive.set({ listener }, count);
    },
  });

  const connectionsTotal = new Counter<'listener' | 'outcome'>({
    name: 'braid_connections_total',
    help: 'Connections closed, by how the upstream side was carried (mptcp, fallback, tcp, error)',
    labelNames: ['listener', 'outcome'] as const,
    registers,
  });

  const policyConnectionsTotal = new Counter<'policy' | 'outcome' | 'reason'>({
    name: 'braid_policy_connections_total',
    help: 'Connections captured by a transparent listener and closed, by the policy that sent them to braid, outcome and close reason',
    labelNames: ['policy', 'outcome', 'reason'] as const,
    registers,
  });

  const closesTotal = new Counter<'listener' | 'reason'>({
    name: 'braid_connection_closes_total',
    help: 'Connections closed, by reason (done, reset, connect-error, connect-timeout, idle-timeout, refused, aborted)',
    labelNames: ['listener', 'reason'] as const,
    registers,
  });

  const bytesTotal = new Counter<'listener' | 'direction'>({
    name: 'braid_bytes_total',
    help: 'Bytes relayed by closed connections; up = client to upstream, down = upstream to client',
    labelNames: ['listener', 'direction'] as const,
    registers,
  });

  const connectDuration = new Histogram<'listener' | 'outcome'>({
    name: 'braid_connect_duration_seconds',
    help: 'Time to establish the upstream connection, by outcome',
    labelNames: ['listener', 'outcome'] as const,
    buckets: CONNECT_BUCKETS,
    registers,
  });

  const subflowEvents = new Counter<'path' | 'action'>({
    name: 'braid_subflow_events_total',
    help: 'Subflows added to or removed from MPTCP connections, by local path',
    labelNames: ['path', 'action'] as const,
    registers,
  });

  const subflowsActive = new Gauge<'path'>({
    name: 'braid_subflows_active',
    help: 'Open subflows of open MPTCP connections, by local path; read from the data plane at scrape',
    labelNames: ['path'] as const,
    registers,
    collect() {
      const counts = new Map<string, number>();
      for (const path of knownPaths) counts.set(path, 0);
      for (const conn of scrapeSnapshot().connections) {
        for (const subflow of conn.subflows) {
          if (subflow.closed) continue;
          const path = pathName(options.pathForAddress, subflow.local);
          counts.set(path, (counts.get(path) ?? 0) + 1);
          knownPaths.add(path);
        }
      }
      subflowsActive.reset();
      for (const [path, count] of counts) subflowsActive.set({ path }, count);
    },
  });

  const pathDeltas = new DeltaTracker();
  const pathBytes = new Counter<'path' | 'direction'>({
    name: 'braid_path_bytes_total',
    help: 'Bytes sent and received on MPTCP subflows, by local path (all connections, open or closed)',
    labelNames: ['path', 'direction'] as const,
    registers,
    collect() {
      for (const { address, sent, received } of scrapeSnapshot().addressBytes) {
        const path = pathName(options.pathForAddress, address);
        pathBytes.inc({ path, direction: 'sent' }, pathDeltas.delta(`${address}|sent`, sent));
        pathBytes.inc({ path, direction: 'received' }, pathDeltas.delta(`${address}|received`, received));
      }
    },
  });

  const totalDeltas = new DeltaTracker();
  const acceptedTotal = new Counter({
    name: 'braid_accepted_total',
    help: 'Connections accepted by all listeners since start; read from the data plane at scrape',
    registers,
    collect() {
      acceptedTotal.inc(totalDeltas.delta('accepted', scrapeSnapshot().accepted));
    },
  });
  const refusedTotal = new Counter({
    name: 'braid_refused_total',
    help: 'Connections refused because max connections was reached; read from the data plane at scrape',
    registers,
    collect() {
      refusedTotal.inc(totalDeltas.delta('refused', scrapeSnapshot().refused));
    },
  });

  const reloadsTotal = new Counter<'result'>({
    name: 'braid_config_reloads_total',
    help: 'Config reloads by result: ok (change applied), unchanged, invalid (file rejected), restart-required (nothing applied), failed (applying failed, old config kept)',
    labelNames: ['result'] as const,
    registers,
  });
  // Every result exported from the start, so increase() and alerts see the first one.
  for (const result of RELOAD_RESULTS) reloadsTotal.inc({ result }, 0);
  const lastReloadSuccess = new Gauge({
    name: 'braid_config_last_reload_success_timestamp_seconds',
    help: 'Unix time the running config was last loaded: at start, then each reload that applied a change',
    registers,
  });
  // The initial load counts, as in Prometheus' own gauge, so the value is never 0 while braid runs.
  lastReloadSuccess.set(Date.now() / 1000);

  const unsubscribers = [
    subscribe('open', (event) => {
      knownListeners.add(event.listener);
    }),
    subscribe('established', (event) => {
      connectDuration.observe({ listener: event.listener, outcome: event.outcome }, event.connectUs / 1e6);
    }),
    subscribe('subflow', (event) => {
      subflowEvents.inc({ path: pathName(options.pathForAddress, event.subflow.local), action: event.action });
    }),
    subscribe('close', (event) => {
      const listener = event.listener;
      knownListeners.add(listener);
      connectionsTotal.inc({ listener, outcome: event.outcome });
      closesTotal.inc({ listener, reason: event.reason });
      if (event.policy !== '') policyConnectionsTotal.inc({ policy: event.policy, outcome: event.outcome, reason: event.reason });
      bytesTotal.inc({ listener, direction: 'up' }, event.bytesUp);
      bytesTotal.inc({ listener, direction: 'down' }, event.bytesDown);
    }),
  ];

  let disposed = false;
  return {
    registry,
    reloaded(result) {
      if (disposed) return;
      reloadsTotal.inc({ result });
      if (result === 'ok') lastReloadSuccess.set(Date.now() / 1000);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const unsubscribe of unsubscribers) unsubscribe();
      registry.clear();
    },
  };
}
