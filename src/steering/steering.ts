// Keeps each connection's subflow preference in line with its scheduler and, for numa-local,
// with where its application runs. Every `reevaluate` it reads the data plane's connections,
// finds (once, then cached) the process at the local end of each numa-local one, reads where
// that process may run, and hands the userspace path manager the resulting tiers when they
// changed. It also moves the connection's relay work to a worker on the application's node.
import type { Scheduler } from '../config';
import { preferenceTiers, type SchedulerPath } from '../policy/scheduler';
import { applicationNode, type ProcessCpus } from '../topology/app-node';
import type { NumaTopology } from '../topology/sysfs';
import type { NativeUserspacePathManager, SocketOwner, SubflowInfo } from '../dataplane/types';

/** What steering needs to know of one relayed connection. */
export interface SteerableConnection {
  id: number;
  worker: number;
  token: number; // 0: not MPTCP (nothing to steer)
  /** The local application's socket as braid sees it: braid's end, and the application's end. */
  appLocal: string;
  appRemote: string;
  subflows: SubflowInfo[];
  scheduler: Scheduler;
  order: string[];
}

export interface SteeringOptions {
  /** Read on every use: a reload may replace the path manager and the paths. */
  pm: () => Pick<NativeUserspacePathManager, 'setPreference'> | undefined;
  paths: () => (SchedulerPath & { addresses: string[] })[];
  topology: NumaTopology;
  connections: () => SteerableConnection[];
  findSocketOwner: (local: string, remote: string, hintPid: number) => SocketOwner | null;
  processCpus: (pid: number) => ProcessCpus | null;
  /** NUMA node of each relay worker by index; moves are made only when given. */
  workerNodes?: (number | undefined)[];
  moveConnection?: (id: number, worker: number) => boolean;
}

export interface SteeringStats {
  evaluations: number;
  preferenceChanges: number;
  ownerLookups: number;
  ownersNotFound: number;
  moves: number;
  /** numa-local connections' bytes received per path, split by whether the path was local. */
  receivedBytes: Map<string, { local: number; remote: number }>;
}

interface Tracked {
  pid: number; // 0: not found (yet)
  node: number | undefined;
  tiersKey: string;
  lastLookup: number; // tick number of the last owner lookup
  received: Map<string, number>; // subflow key -> bytes received seen so far
}

const OWNER_RETRY_TICKS = 5; // an owner not found is looked up again after this many ticks
// After a connection is established: time for its MPTCP token to be read and for a burst of
// connections to gather into one pass.
const KICK_DELAY_MS = 20;

export class Steering {
  readonly stats: SteeringStats = {
    evaluations: 0,
    preferenceChanges: 0,
    ownerLookups: 0,
    ownersNotFound: 0,
    moves: 0,
    receivedBytes: new Map(),
  };
  private readonly tracked = new Map<number, Tracked>();
  private lastPid = 0;
  private tickNo = 0;
  private timer: NodeJS.Timeout | undefined;
  private kicked: NodeJS.Timeout | undefined;

  constructor(private readonly options: SteeringOptions) {}

  start(intervalMs: () => number): void {
    const loop = (): void => {
      try {
        this.tick();
      } finally {
        this.timer = setTimeout(loop, intervalMs());
        this.timer.unref();
      }
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.kicked !== undefined) clearTimeout(this.kicked);
    this.timer = undefined;
    this.kicked = undefined;
  }

  /**
   * A connection was just established: evaluate soon rather than at the next interval, so short
   * connections get their preference too. Bursts of connections share one pass.
   */
  kick(): void {
    if (this.timer === undefined || this.kicked !== undefined) return;
    this.kicked = setTimeout(() => {
      this.kicked = undefined;
      this.tick();
    }, KICK_DELAY_MS);
    this.kicked.unref();
  }

  /** One pass over the open connections. */
  tick(): void {
    this.tickNo++;
    const seen = new Set<number>();
    for (const c of this.options.connections()) {
      if (c.token === 0) continue;
      seen.add(c.id);
      this.evaluate(c);
    }
    for (const id of this.tracked.keys()) if (!seen.has(id)) this.tracked.delete(id);
  }

  private evaluate(c: SteerableConnection): void {
    this.stats.evaluations++;
    let t = this.tracked.get(c.id);
    if (t === undefined) {
      t = { pid: 0, node: undefined, tiersKey: '', lastLookup: -OWNER_RETRY_TICKS, received: new Map() };
      this.tracked.set(c.id, t);
    }
    let appNode: number | undefined;
    if (c.scheduler === 'numa-local') {
      appNode = this.applicationNodeOf(c, t);
      t.node = appNode;
      this.countReceived(c, t, appNode);
    }
    const tiers = preferenceTiers({ scheduler: c.scheduler, paths: this.options.paths(), appNode, order: c.order }) ?? [];
    const key = JSON.stringify(tiers);
    const pm = this.options.pm();
    if (key !== t.tiersKey && pm !== undefined) {
      pm.setPreference(c.token, tiers);
      t.tiersKey = key;
      this.stats.preferenceChanges++;
    }
    if (appNode !== undefined) this.place(c, appNode);
  }

  private applicationNodeOf(c: SteerableConnection, t: Tracked): number | undefined {
    if (t.pid === 0 && this.tickNo - t.lastLookup >= OWNER_RETRY_TICKS) {
      t.lastLookup = this.tickNo;
      this.stats.ownerLookups++;
      // The application's socket: its local end is braid's peer, and the other way round.
      const owner = this.options.findSocketOwner(c.appRemote, c.appLocal, this.lastPid);
      if (owner === null || owner.pid === 0) {
        this.stats.ownersNotFound++;
      } else {
        t.pid = owner.pid;
        this.lastPid = owner.pid;
      }
    }
    if (t.pid === 0) return undefined;
    const cpus = this.options.processCpus(t.pid);
    if (cpus === null) {
      t.pid = 0; // gone: the socket may have passed to another process
      return t.node;
    }
    return applicationNode(cpus, this.options.topology);
  }

  private place(c: SteerableConnection, node: number): void {
    const { workerNodes, moveConnection } = this.options;
    if (workerNodes === undefined || moveConnection === undefined) return;
    if (workerNodes[c.worker] === node) return;
    const candidates = workerNodes.flatMap((n, i) => (n === node ? [i] : []));
    if (candidates.length === 0) return;
    // Spread by connection id so one node's workers share its connections.
    const target = candidates[c.id % candidates.length]!;
    if (moveConnection(c.id, target)) this.stats.moves++;
  }

  private countReceived(c: SteerableConnection, t: Tracked, appNode: number | undefined): void {
    for (const s of c.subflows) {
      const key = `${s.local}>${s.remote}`;
      const delta = s.bytesReceived - (t.received.get(key) ?? 0);
      t.received.set(key, s.bytesReceived);
      if (delta <= 0 || appNode === undefined) continue;
      const path = this.options.paths().find((p) => p.addresses.includes(hostOf(s.local)));
      if (path === undefined) continue;
      const entry = this.stats.receivedBytes.get(path.name) ?? { local: 0, remote: 0 };
      if (path.node === appNode) entry.local += delta;
      else entry.remote += delta;
      this.stats.receivedBytes.set(path.name, entry);
    }
  }
}

function hostOf(endpoint: string): string {
  if (endpoint.startsWith('[')) return endpoint.slice(1, endpoint.indexOf(']'));
  const colon = endpoint.lastIndexOf(':');
  return colon < 0 ? endpoint : endpoint.slice(0, colon);
}
