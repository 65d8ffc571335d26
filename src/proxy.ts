// One running braid: kernel endpoints for the paths, the native data plane, and the
// observability around it. start() undoes its own partial work on failure; stop() drains.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadedConfig } from './config';
import { openDataplane } from './dataplane';
import { dataplaneSpec } from './dataplane/spec';
import type { DataplaneSnapshot, NativeDataplane } from './dataplane/types';
import { startAdminServer } from './admin/server';
import { subscribeAccessLog } from './observability/access-log';
import { publishDataplaneEvents } from './observability/events';
import type { Logger } from './observability/logger';
import { createMetrics } from './observability/metrics';
import { EndpointOwner } from './paths/endpoints';

export interface ProxyOptions {
  loaded: LoadedConfig;
  logger: Logger;
  /** Where endpoint ownership is recorded; default /run/braid. */
  stateDir?: string;
}

type Cleanup = () => void | Promise<void>;

export class Proxy {
  private readonly loaded: LoadedConfig;
  private readonly logger: Logger;
  private readonly stateDir: string | undefined;
  private dataplane: NativeDataplane | undefined;
  private endpoints: EndpointOwner | undefined;
  private readonly cleanups: Cleanup[] = [];
  private ready = false;
  private abortDrain = false;
  private stopping: Promise<void> | undefined;

  constructor(options: ProxyOptions) {
    this.loaded = options.loaded;
    this.logger = options.logger;
    this.stateDir = options.stateDir;
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

    // No paths: the namespace's endpoints and limits are not braid's business (and a second braid
    // without paths may run beside one that has them).
    if (rt.paths.length > 0) {
      const endpoints = new EndpointOwner({
        paths: rt.paths,
        limits: rt.mptcp,
        ...(this.stateDir !== undefined ? { stateDir: this.stateDir } : {}),
        log: (level, message, fields) => log[level](fields ?? {}, message),
      });
      this.endpoints = endpoints;
      endpoints.start();
      this.cleanups.push(() => {
        if (!endpoints.release()) log.warn({ stateFile: endpoints.stateFile }, 'some endpoints could not be removed; the next start retries');
      });
      log.info({ endpoints: endpoints.endpoints(), stateFile: endpoints.stateFile }, 'kernel MPTCP endpoints ready');
    }

    this.cleanups.push(subscribeAccessLog(log));
    const dataplane = openDataplane(dataplaneSpec(rt), publishDataplaneEvents);
    this.dataplane = dataplane;
    this.cleanups.push(() => dataplane.close());

    const snapshot = (): DataplaneSnapshot => dataplane.snapshot();
    const pathForAddress = (address: string): string | undefined => this.endpoints?.addressToPath(address);
    const metrics = createMetrics({ snapshot, pathForAddress });
    this.cleanups.push(() => metrics.dispose());

    if (rt.admin.listen !== null) {
      const admin = await startAdminServer({
        listen: rt.admin.listen,
        registry: metrics.registry,
        snapshot,
        ready: () => this.ready,
        effectiveConfig: () => this.loaded.config,
        pathForAddress,
      });
      this.cleanups.push(() => admin.close());
      log.info({ admin: admin.address }, 'admin endpoint listening');
    }

    const transparent = rt.listeners.filter((l) => l.mode === 'transparent' || l.mode === 'transparent-inbound').map((l) => l.name);
    if (transparent.length > 0) {
      log.warn({ listeners: transparent }, 'transparent listeners are not wired into the data plane yet: nothing is captured');
    }
    const bound = dataplane.listenerAddresses();
    for (const l of rt.listeners) {
      const b = bound.find((x) => x.id === rt.listeners.indexOf(l) + 1);
      log.info({ listener: l.name, mode: l.mode, listen: b, target: 'target' in l ? l.target : undefined }, 'listener ready');
    }
  }

  /** Bound listener addresses (port 0 resolved), by listener name. */
  listenerAddresses(): Map<string, { host: string; port: number }> {
    const out = new Map<string, { host: string; port: number }>();
    const bound = this.dataplane?.listenerAddresses() ?? [];
    this.loaded.runtime.listeners.forEach((l, i) => {
      const b = bound.find((x) => x.id === i + 1);
      if (b) out.set(l.name, { host: b.host, port: b.port });
    });
    return out;
  }

  /**
   * Stop accepting, let open connections finish for up to the drain timeout, then abort the
   * rest and remove everything braid set up. Safe to call more than once.
   */
  stop(options: { immediate?: boolean } = {}): Promise<void> {
    if (options.immediate === true) this.abortDrain = true;
    this.stopping ??= this.drainAndClose();
    return this.stopping;
  }

  private async drainAndClose(): Promise<void> {
    this.ready = false;
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
    this.dataplane?.close();
    this.endpoints?.release();
  }
}
