// Metrics of the userspace path manager and of steering: bytes per path split by whether the
// path was on the application's NUMA node, the local share, subflow re-creations, MP_PRIO.
// Read at scrape time from the steering stats and the path manager's counters.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { UserspacePmSnapshot } from '../dataplane/types';
import type { SteeringStats } from '../steering/steering';
import { DeltaTracker } from './metrics';

export function registerSteeringMetrics(registry: Registry, stats: SteeringStats, pm: () => UserspacePmSnapshot | null): void {
  const registers = [registry];
  const deltas = new DeltaTracker();
  new Counter<'path' | 'numa_local'>({
    name: 'braid_numa_received_bytes_total',
    help: 'Bytes numa-local connections received, by path and by whether the path is on the NUMA node of the receiving application',
    labelNames: ['path', 'numa_local'] as const,
    registers,
    collect() {
      for (const [path, bytes] of stats.receivedBytes) {
        this.inc({ path, numa_local: 'true' }, deltas.delta(`${path}/l`, bytes.local));
        this.inc({ path, numa_local: 'false' }, deltas.delta(`${path}/r`, bytes.remote));
      }
    },
  });
  new Gauge({
    name: 'braid_numa_local_received_ratio',
    help: 'Share of the bytes numa-local connections received that arrived on a NIC local to the receiving application (0..1; 0 before any)',
    registers,
    collect() {
      let local = 0;
      let all = 0;
      for (const b of stats.receivedBytes.values()) {
        local += b.local;
        all += b.local + b.remote;
      }
      this.set(all === 0 ? 0 : local / all);
    },
  });
  const counter = (name: string, help: string, read: (s: UserspacePmSnapshot) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = pm();
        if (s !== null) this.inc(deltas.delta(name, read(s)));
      },
    });
  counter('braid_subflows_created_total', 'Subflows the userspace path manager asked the kernel to open', (s) => s.counters.subflowsCreated);
  counter('braid_subflows_recreated_total', 'Subflows established again on a path whose earlier subflow of the same connection was lost', (s) => s.counters.subflowsRecreated);
  counter('braid_subflow_create_errors_total', 'Subflow opens the kernel refused (retried with backoff)', (s) => s.counters.subflowCreateErrors);
  counter('braid_mp_prio_changes_total', 'Backup flags changed on subflows (MP_PRIO sent to the peer)', (s) => s.counters.prioChanges);
  counter('braid_address_announcements_total', 'Addresses announced to peers (ADD_ADDR)', (s) => s.counters.announces);
  new Counter({
    name: 'braid_steering_preference_changes_total',
    help: 'Times a connection got a new path preference (scheduler decision changed)',
    registers,
    collect() {
      this.inc(deltas.delta('pref', stats.preferenceChanges));
    },
  });
  new Counter({
    name: 'braid_connection_migrations_total',
    help: 'Connections moved to a relay worker on their application NUMA node',
    registers,
    collect() {
      this.inc(deltas.delta('moves', stats.moves));
    },
  });
}
