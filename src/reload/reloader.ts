// Live reload, orchestrated without knowing the data plane: on a file change or SIGHUP,
// load the file, plan against the running config, and hand the plan to `apply`.
//
// The contract with `apply(next, plan)`:
// - It is called only with a valid config whose plan is not a no-op and needs no restart.
// - It is all-or-nothing: it either makes `next` the running config (so `current()` returns
//   it afterwards) and resolves, or leaves the running config as it was and rejects. The
//   Reloader cannot undo a half-applied change; a rejection is logged and counted 'failed'.
// - It is never called twice at once: reloads are serialised. A trigger during a reload
//   queues exactly one more, which reads the file as it is then, so a burst of triggers
//   costs at most one extra reload.
import { ConfigError, formatIssue, loadConfigFile, type LoadedConfig } from '../config';
import { DEFAULT_POLL_MS, watchConfigFile, type ConfigWatcher } from '../config/watch';
import { isBraidError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ReloadResult } from '../observability/metrics';
import { planReload, type ReloadPlan } from './plan';

export type ReloadReason = 'file' | 'signal';

export interface ReloaderOptions {
  file: string;
  /** The running config; read at the start of every reload. */
  current: () => LoadedConfig;
  /** Make `next` the running config, all or nothing (see the contract above). */
  apply: (next: LoadedConfig, plan: ReloadPlan) => Promise<void>;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  metrics: { reloaded(result: ReloadResult): void };
  /** Watch the file (default true); false leaves SIGHUP and reloadNow() as the only triggers. */
  watch?: boolean;
  /** Passed to watchConfigFile. */
  debounceMs?: number;
  pollMs?: number;
}

export class Reloader {
  private readonly opts: ReloaderOptions;
  private watcher: ConfigWatcher | undefined;
  private readonly onSignal = (): void => {
    void this.reloadNow('signal');
  };
  private started = false;
  /** The last reload queued; later ones chain behind it. */
  private tail: Promise<void> = Promise.resolve();
  /** A reload queued but not yet started: further triggers join it instead of adding one. */
  private queued: Promise<void> | undefined;

  constructor(opts: ReloaderOptions) {
    this.opts = opts;
  }

  /** Start the file watcher (unless watch: false) and the SIGHUP handler. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { file, logger } = this.opts;
    if (this.opts.watch !== false) {
      const pollMs = this.opts.pollMs ?? DEFAULT_POLL_MS;
      this.watcher = watchConfigFile(file, () => void this.reloadNow('file'), {
        ...(this.opts.debounceMs !== undefined ? { debounceMs: this.opts.debounceMs } : {}),
        pollMs,
        // 'unchanged' is what most checks (every fallback poll) find: not worth a line.
        onCheck: (outcome) => {
          if (outcome !== 'unchanged') logger.debug({ file, outcome }, 'config file checked');
        },
        onWatchError: (err) =>
          logger.warn(
            { err, file },
            pollMs > 0
              ? `cannot watch the config file's directory; checking it every ${pollMs / 1000}s instead`
              : "cannot watch the config file's directory; reload with SIGHUP",
          ),
      });
    }
    // Installing a listener also replaces Node's default for SIGHUP, which is to exit.
    process.on('SIGHUP', this.onSignal);
    logger.info({ file, watch: this.opts.watch !== false }, 'config reload enabled: on file change and SIGHUP');
  }

  /** Stop watching and remove the SIGHUP handler. A reload in progress finishes (see settled()). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.watcher?.close();
    this.watcher = undefined;
    process.removeListener('SIGHUP', this.onSignal);
  }

  /** Resolves when no reload is running or queued (as of this call). */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Reload now, or once more after the reload in progress. Never rejects. */
  reloadNow(reason: ReloadReason): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    const run = this.tail.then(() => {
      this.queued = undefined;
      return this.reloadOnce(reason);
    });
    this.queued = run;
    this.tail = run;
    return run;
  }

  private async reloadOnce(reason: ReloadReason): Promise<void> {
    const result = await this.attempt(reason);
    this.opts.metrics.reloaded(result);
  }

  private async attempt(reason: ReloadReason): Promise<ReloadResult> {
    const { file, logger } = this.opts;
    let next: LoadedConfig;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      if (err instanceof ConfigError) {
        logger.error(
          { reason, file, issues: err.issues.map((i) => formatIssue(err.source, i)) },
          `config reload rejected, the running config stays: ${err.message.split('\n')[0]}`,
        );
        return 'invalid';
      }
      if (isBraidError(err) && err.code === 'BRAID_CONFIG_READ') {
        logger.error({ reason, file, err }, `config reload rejected, the running config stays: ${err.message}`);
        return 'invalid';
      }
      logger.error({ reason, file, err }, 'config reload failed while loading the file; the running config stays');
      return 'failed';
    }

    let plan: ReloadPlan;
    try {
      plan = planReload(this.opts.current().runtime, next.runtime);
    } catch (err) {
      logger.error({ reason, file, err }, 'config reload failed while planning; the running config stays');
      return 'failed';
    }
    if (plan.restartRequired.length > 0) {
      logger.error(
        { reason, file, restartRequired: plan.restartRequired },
        `config change needs a restart (${plan.restartRequired.join(', ')}); nothing applied, the running config stays`,
      );
      return 'restart-required';
    }
    if (plan.noop) {
      logger.info({ reason, file }, 'config reloaded: no change');
      return 'unchanged';
    }

    try {
      await this.opts.apply(next, plan);
    } catch (err) {
      logger.error({ reason, file, err, plan: summarize(plan) }, 'config reload failed while applying; the running config stays');
      return 'failed';
    }
    logger.info({ reason, file, ...summarize(plan) }, 'config reloaded');
    return 'ok';
  }
}

/** The plan in a log line: names of the listeners touched, and only what changed. */
export function summarize(plan: ReloadPlan): Record<string, unknown> {
  const names = (ls: readonly { name: string }[]): string[] => ls.map((l) => l.name);
  const out: Record<string, unknown> = {};
  if (plan.listeners.added.length > 0) out['listenersAdded'] = names(plan.listeners.added);
  if (plan.listeners.removed.length > 0) out['listenersRemoved'] = names(plan.listeners.removed);
  if (plan.listeners.changed.length > 0) out['listenersChanged'] = names(plan.listeners.changed.map((c) => c.to));
  for (const flag of ['pathsChanged', 'mptcpLimitsChanged', 'policiesChanged', 'adminChanged', 'timeoutsChanged', 'limitsChanged'] as const) {
    if (plan[flag]) out[flag] = true;
  }
  if (plan.logLevel !== undefined) out['logLevel'] = plan.logLevel;
  return out;
}
