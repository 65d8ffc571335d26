// One running braid: kernel endpoints for the paths, the native data plane and its listeners,
// the nftables table for transparent listeners, and the observability around them.
// start() undoes its own partial work on failure; apply() changes a running braid all or
// nothing (live reload); stop() drains.
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { LoadedConfig, RuntimeConfig } from './config';
import { openDataplane } from './dataplane';
import { planListeners, redirectPorts, type OpenListener, type PlannedListener } from './dataplane/listeners';
import { dataplaneSpec } from './dataplane/spec';
import type { DataplaneSnapshot, NativeDataplane } from './dataplane/types';
import { startAdminServer } from './admin/server';
import { subscribeAccessLog } from './observability/access-log';
import { publishDataplaneEvents, subscribe } from './observability/events';
import type { Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import { EndpointOwner } from './paths/endpoints';
import { BYPASS_MARK, compileRuleset, REJECT_MARK, ROUTING_TABLE, TPROXY_MARK } from './policy';
import { PolicyRouting, RedirectTable } from './redirect';
import type { ReloadPlan } from './reload/plan';
import { nativeModule } from './dataplane/native';
import type { NativeUserspacePathManager } from './dataplane/types';
import { netlinkError } from './dataplane';
import { registerSteeringMetrics } from './observability/steering-metrics';
import { steerableConnections } from './steering/connections';
import { Steering } from './steering/steering';
import { placeWorkers } from './topology/placement';
import { nicNumaNode, readTopology, type NumaTopology } from './topology/sysfs';
import type { SchedulerPath } from './policy/scheduler';

export interface ProxyOptions {
  loaded: LoadedConfig;
  logger: Logger;
  /** Where endpoint ownership is recorded; default /run/braid. */
  stateDir?: string;
}

type Cleanup = () => void | Promise<void>;
type Admin = Awaited<ReturnType<typeof startAdminServer>>;

export const REDIRECT_TABLE = 'braid';
const ROUTING = { mark: TPROXY_MARK, table: ROUTING_TABLE };

export class Proxy {
  private loaded: LoadedConfig;
  private readonly logger: Logger;
  private readonly stateDir: string | undefined;
  private dataplane: NativeDataplane | undefined;
  private endpoints: EndpointOwner | undefined;
  private userspacePm: NativeUserspacePathManager | undefined;
  private steering: Steering | undefined;
  private topology: NumaTopology | undefined;
  private schedulerPaths: (SchedulerPath & { addresses: string[] })[] = [];
  private metricsHandle: Metrics | undefined;
  private admin: Admin | undefined;
  private readonly redirect = new RedirectTable({ table: REDIRECT_TABLE });
  private routing: PolicyRouting | undefined; // TPROXY's fwmark rule and local route, while routed capture is on
  private readonly open = new Map<string, OpenListener>(); // by PlannedListener.key
  private nextListenerId = 1;
  private readonly draining = new Set<Promise<void>>();
  private readonly cleanups: Cleanup[] = [];
  private ready = false;
  private abortDrain = false;
  private stopping: Promise<void> | undefined;

  constructor(options: ProxyOptions) {
    this.loaded = options.loaded;
    this.logger = options.logger;
    this.stateDir = options.stateDir;
  }

  get config(): LoadedConfig {
    return this.loaded;
  }

  get metrics(): Metrics | undefined {
    return this.metricsHandle;
  }

  /** The userspace path manager's view (paths, connections, counters); undefined without one. */
  pathManagerSnapshot(): ReturnType<NativeUserspacePathManager['snapshot']> | undefined {
    return this.userspacePm?.snapshot();
  }

  get steeringStats(): Steering['stats'] | undefined {
    return this.steering?.stats;
  }

  async start(): Promise<void> {
    try {
      await this.startParts();
    } catch (err) {
      await this.runCleanups();
      throw err;
    }
    this.ready = true;
  }

  private async startParts(): Promise<void> {
    const rt = this.loaded.runtime;
    const log = this.logger;

    // A table left by a braid that was killed would capture traffic for ports nobody serves.
    if (await this.redirect.exists()) {
      log.warn({ table: `inet ${REDIRECT_TABLE}` }, 'removing a stale nftables table left by an earlier braid');
      await this.redirect.remove();
    }
    this.cleanups.push(() => this.redirect.remove());
    // The same for TPROXY's rule and route: braid's mark and table number are its own.
    this.routing = new PolicyRouting();
    this.routing.remove(ROUTING);
    this.cleanups.push(() => {
      this.routing?.remove(ROUTING);
      this.routing?.close();
      this.routing = undefined;
    });

    this.cleanups.push(() => this.releaseEndpoints());
    this.startEndpoints(rt);
    this.topology = readTopology(rt.topology.sysfsRoot);
    this.cleanups.push(() => this.stopUserspacePm());
    this.startUserspacePm(rt);

    this.cleanups.push(subscribeAccessLog(log));
    // Workers grouped per NUMA node (unpinned on a one-node machine).
    const placement = placeWorkers(this.topology, rt.workers);
    const dataplane = openDataplane(dataplaneSpec(rt, placement.cpus), publishDataplaneEvents);
    this.dataplane = dataplane;
    this.cleanups.push(() => dataplane.close());

    this.openListeners(planListeners(rt));
    await this.installRedirect(rt);

    const snapshot = (): DataplaneSnapshot => dataplane.snapshot();
    const metrics = createMetrics({ snapshot, pathForAddress: (a) => this.pathForAddress(a) });
    this.metricsHandle = metrics;
    this.cleanups.push(() => metrics.dispose());

    if (this.userspacePm !== undefined) {
      const steering = new Steering({
        pm: () => this.userspacePm,
        paths: () => this.schedulerPaths,
        topology: this.topology,
        connections: () => steerableConnections(dataplane.snapshot(), this.loaded.runtime),
        findSocketOwner: (local, remote, hint) => nativeModule().findSocketOwner(local, remote, hint),
        processCpus: (pid) => nativeModule().processCpus(pid),
        workerNodes: placement.nodes,
        moveConnection: (id, worker) => dataplane.moveConnection(id, worker),
      });
      this.steering = steering;
      steering.start(() => this.loaded.runtime.reevaluateMs);
      this.cleanups.push(() => steering.stop());
      this.cleanups.push(subscribe('established', () => steering.kick()));
      registerSteeringMetrics(metrics.registry, steering.stats, () => this.userspacePm?.snapshot() ?? null);
    }

    await this.startAdmin(rt);
    this.cleanups.push(() => this.admin?.close());

    for (const o of this.open.values()) log.info({ listener: o.planned.spec.name, role: o.planned.role, port: o.port }, 'listener ready');
  }

  private pathForAddress(address: string): string | undefined {
    return this.endpoints?.addressToPath(address);
  }

  // No paths: the namespace's endpoints and limits are not braid's business (and a second braid
  // without paths may run beside one that has them).
  private startEndpoints(rt: RuntimeConfig): void {
    if (rt.paths.length === 0) return;
    const log = this.logger;
    const endpoints = new EndpointOwner({
      paths: rt.paths,
      limits: rt.mptcp,
      pathManagerType: rt.pathManager,
      ...(this.stateDir !== undefined ? { stateDir: this.stateDir } : {}),
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
    endpoints.start();
    this.endpoints = endpoints;
    log.info({ endpoints: endpoints.endpoints(), stateFile: endpoints.stateFile }, 'kernel MPTCP endpoints ready');
  }

  /** What /paths shows: the path manager, each path's NUMA node and state, the steering. */
  private pathsDocument(): unknown {
    const rt = this.loaded.runtime;
    const pm = this.userspacePm?.snapshot() ?? null;
    return {
      pathManager: rt.pathManager,
      topology: this.topology ?? null,
      paths: this.schedulerPaths.length > 0
        ? this.schedulerPaths.map((p) => ({ ...p, up: pm?.paths.find((q) => q.id === p.id)?.up ?? null }))
        : (this.endpoints?.resolved() ?? []).map((p) => ({ name: p.name, addresses: p.addresses })),
      connections: pm?.connections ?? [],
      counters: pm?.counters ?? null,
      steering: this.steering !== undefined ? { ...this.steering.stats, receivedBytes: Object.fromEntries(this.steering.stats.receivedBytes) } : null,
    };
  }

  /** With pathManager userspace: braid's own path manager over the resolved paths. */
  private startUserspacePm(rt: RuntimeConfig): void {
    if (rt.pathManager !== 'userspace' || this.endpoints === undefined) return;
    const sysfs = rt.topology.sysfsRoot;
    const resolved = this.endpoints.resolved();
    const paths = resolved.map((p, i) => ({ ...p, id: i + 1 }));
    this.schedulerPaths = paths.map((p, i) => ({
      id: p.id,
      name: p.name,
      node: rt.paths[i]?.numaNode ?? nicNumaNode(sysfs, p.interface),
      addresses: p.addresses,
    }));
    try {
      this.userspacePm = new (nativeModule().UserspacePathManager)(
        paths.map((p) => ({ id: p.id, name: p.name, ifindex: p.ifindex, addresses: p.addresses, signal: p.signal, subflow: p.subflow, backup: p.backup })),
      );
    } catch (err) {
      throw netlinkError(err, 'starting the userspace path manager (generic netlink "mptcp_pm" events)');
    }
    this.logger.info(
      { paths: this.schedulerPaths.map((p) => ({ id: p.id, name: p.name, numaNode: p.node ?? null })), topology: this.topology },
      'userspace path manager running',
    );
  }

  private stopUserspacePm(): void {
    this.userspacePm?.close();
    this.userspacePm = undefined;
  }

  private releaseEndpoints(): void {
    const endpoints = this.endpoints;
    this.endpoints = undefined;
    if (endpoints && !endpoints.release()) {
      this.logger.warn({ stateFile: endpoints.stateFile }, 'some endpoints could not be removed; the next start retries');
    }
  }

  private async startAdmin(rt: RuntimeConfig): Promise<void> {
    if (rt.admin.listen === null || !this.dataplane || !this.metricsHandle) return;
    const dataplane = this.dataplane;
    this.admin = await startAdminServer({
      listen: rt.admin.listen,
      registry: this.metricsHandle.registry,
      snapshot: () => dataplane.snapshot(),
      ready: () => this.ready,
      effectiveConfig: () => this.loaded.config,
      pathForAddress: (a) => this.pathForAddress(a),
      paths: () => this.pathsDocument(),
    });
    this.logger.info({ admin: this.admin.address }, 'admin endpoint listening');
  }

  /** Opens the planned listeners not open yet (all or none); returns those no longer planned. */
  private openListeners(planned: PlannedListener[]): { added: OpenListener[]; stale: OpenListener[] } {
    const dp = this.dataplane!;
    const wanted = new Set(planned.map((p) => p.key));
    const fresh = planned.filter((p) => !this.open.has(p.key));
    const specs = fresh.map((p) => ({ ...p.spec, id: this.nextListenerId++ }));
    const bound = specs.length > 0 ? dp.addListeners(specs) : [];
    const added = specs.map((s, i) => ({ id: s.id, port: bound.find((b) => b.id === s.id)?.port ?? 0, planned: fresh[i]! }));
    for (const a of added) this.open.set(a.planned.key, a);
    const stale = [...this.open.values()].filter((o) => !wanted.has(o.planned.key));
    return { added, stale };
  }

  /** Installs (or replaces, atomically) the nftables table, or removes it when nothing is transparent. */
  private async installRedirect(rt: RuntimeConfig, only?: Map<string, OpenListener>): Promise<void> {
    const open = [...(only ?? this.open).values()];
    const transparent = open.some((o) => o.planned.role.kind !== 'address');
    const routed = open.some((o) => o.planned.role.kind === 'transparent-routed');
    const local = rt.listeners.some((l) => l.mode === 'transparent' && l.capture.includes('local'));
    if (!transparent) {
      await this.redirect.remove();
    } else {
      const ports = redirectPorts(open);
      await this.redirect.install(
        compileRuleset({
          policies: rt.policies,
          outboundPorts: ports.outboundPorts,
          inbound: ports.inbound,
          mark: BYPASS_MARK,
          rejectMark: REJECT_MARK,
          table: REDIRECT_TABLE,
          local,
          ...(routed ? { routed: { ports: ports.routedPorts, mark: TPROXY_MARK } } : {}),
        }),
      );
    }
    // TPROXY delivers marked packets for remote addresses locally only through this rule and route.
    if (routed) this.routing?.install(ROUTING);
    else this.routing?.remove(ROUTING);
  }

  /** Close listeners now; their connections drain in the background up to the drain timeout. */
  private retire(listeners: OpenListener[]): void {
    if (listeners.length === 0) return;
    const dp = this.dataplane!;
    dp.removeListeners(listeners.map((l) => l.id));
    for (const l of listeners) this.open.delete(l.planned.key);
    const drainMs = this.loaded.runtime.timeouts.drainMs;
    for (const l of listeners) {
      const done = (async () => {
        const deadline = Date.now() + drainMs;
        while (dp.activeConnections(l.id) > 0 && Date.now() < deadline && !this.stopping) await sleep(100);
        if (dp.activeConnections(l.id) > 0 && !this.stopping) {
          this.logger.warn({ listener: l.planned.spec.name, open: dp.activeConnections(l.id) }, 'retired listener: drain timeout, aborting');
          dp.abortConnections(l.id);
        }
      })();
      this.draining.add(done);
      void done.finally(() => this.draining.delete(done));
    }
    this.logger.info({ listeners: listeners.map((l) => ({ name: l.planned.spec.name, role: l.planned.role })) }, 'listeners retired; draining');
  }

  /**
   * Live reload: make `next` the running config, or leave everything as it was and throw.
   * Order: what can fail without side effects first (bind new listeners, install the new
   * ruleset), then what cannot fail (retire old listeners, limits, log level).
   */
  async apply(next: LoadedConfig, plan: ReloadPlan): Promise<void> {
    const rt = next.runtime;
    const previous = this.loaded.runtime;
    const dp = this.dataplane;
    if (!dp || this.stopping) throw new Error('braid is stopping');

    if (plan.pathsChanged || plan.mptcpLimitsChanged) this.swapEndpoints(previous, rt);

    let added: OpenListener[] = [];
    try {
      const result = this.openListeners(planListeners(rt));
      added = result.added;
      const keep = new Map([...this.open].filter(([, o]) => !result.stale.includes(o)));
      if (added.length > 0 || result.stale.length > 0 || plan.policiesChanged) await this.installRedirect(rt, keep);
      this.retire(result.stale);
    } catch (err) {
      // Undo: close what this reload opened, put the old ruleset and endpoints back.
      if (added.length > 0) {
        dp.removeListeners(added.map((a) => a.id));
        for (const a of added) this.open.delete(a.planned.key);
      }
      try {
        await this.installRedirect(previous);
      } catch (restoreErr) {
        this.logger.error({ err: restoreErr }, 'could not restore the previous nftables table');
      }
      if (plan.pathsChanged || plan.mptcpLimitsChanged) this.swapEndpoints(rt, previous);
      throw err;
    }

    if (plan.timeoutsChanged || plan.limitsChanged) {
      dp.setLimits({ maxConnections: rt.limits.maxConnections, connectTimeoutMs: rt.timeouts.connectMs, idleTimeoutMs: rt.timeouts.idleMs });
    }
    if (plan.logLevel !== undefined) this.logger.level = plan.logLevel;
    this.loaded = next;
    if (plan.adminChanged) await this.restartAdmin(rt);
  }

  private swapEndpoints(from: RuntimeConfig, to: RuntimeConfig): void {
    if (isDeepStrictEqual(from.paths, to.paths) && isDeepStrictEqual(from.mptcp, to.mptcp)) return;
    this.stopUserspacePm();
    this.releaseEndpoints();
    try {
      this.startEndpoints(to);
      this.startUserspacePm(to);
    } catch (err) {
      this.stopUserspacePm();
      this.releaseEndpoints();
      this.startEndpoints(from); // the old paths worked a moment ago
      this.startUserspacePm(from);
      throw err;
    }
  }

  private async restartAdmin(rt: RuntimeConfig): Promise<void> {
    // After the commit: a failure here is logged, the proxy itself has the new config.
    try {
      await this.admin?.close();
      this.admin = undefined;
      await this.startAdmin(rt);
    } catch (err) {
      this.logger.error({ err, admin: rt.admin.listen }, 'admin endpoint could not move to its new address');
    }
  }

  /**
   * Stop capturing and accepting, let open connections finish for up to the drain timeout, then
   * abort the rest and remove everything braid set up. Safe to call more than once.
   */
  stop(options: { immediate?: boolean } = {}): Promise<void> {
    if (options.immediate === true) this.abortDrain = true;
    this.stopping ??= this.drainAndClose();
    return this.stopping;
  }

  private async drainAndClose(): Promise<void> {
    this.ready = false;
    // New connections of transparent apps go straight out again instead of to closed ports.
    // NAT'd connections keep going through conntrack; TPROXY'd ones still need the mark rule for
    // established flows (and the route, removed at the end), so routed capture keeps just that.
    try {
      const routed = [...this.open.values()].some((o) => o.planned.role.kind === 'transparent-routed');
      if (routed) {
        await this.redirect.install(
          compileRuleset({
            policies: [],
            outboundPorts: new Map(),
            inbound: [],
            mark: BYPASS_MARK,
            rejectMark: REJECT_MARK,
            table: REDIRECT_TABLE,
            local: false,
            routed: { ports: new Map(), mark: TPROXY_MARK },
          }),
        );
      } else {
        await this.redirect.remove();
      }
    } catch (err) {
      this.logger.error({ err }, 'could not remove the nftables table');
    }
    const dp = this.dataplane;
    if (dp && !this.abortDrain) {
      dp.stopAccepting();
      const deadline = Date.now() + this.loaded.runtime.timeouts.drainMs;
      let open = dp.activeConnections();
      if (open > 0) this.logger.info({ open, drainMs: this.loaded.runtime.timeouts.drainMs }, 'draining');
      while (open > 0 && Date.now() < deadline && !this.abortDrain) {
        await sleep(50);
        open = dp.activeConnections();
      }
      if (open > 0) this.logger.warn({ open }, 'drain timeout: aborting the remaining connections');
    }
    await Promise.all(this.draining);
    await this.runCleanups();
  }

  private async runCleanups(): Promise<void> {
    while (this.cleanups.length > 0) {
      const cleanup = this.cleanups.pop()!;
      try {
        await cleanup();
      } catch (err) {
        this.logger.error({ err }, 'cleanup step failed');
      }
    }
  }

  /** Synchronous last resort for a crashing process: only what must not outlive us. */
  releaseKernelStateSync(): void {
    this.redirect.removeSync();
    try {
      this.routing?.remove(ROUTING);
    } catch {
      // the next start removes it
    }
    this.dataplane?.close();
    this.userspacePm?.close();
    this.endpoints?.release();
  }
}
