// What a new config changes against the running one, decided purely (no I/O) so the data
// plane can act on a typed result and the decision can be table-tested.
//
// Every top-level key of RuntimeConfig is classified in LIVE_KEYS below. A key that is not
// there (one added to the schema later) is treated as needing a restart: braid never
// silently ignores a change it does not know how to apply. Comparisons use deep equality,
// so fields added inside a listener or a section are covered without listing them here.
import { isDeepStrictEqual } from 'node:util';
import type { RuntimeConfig, RuntimeListener } from '../config';

export interface ReloadPlan {
  listeners: {
    /** In the new config only (by name), in its order. */
    added: RuntimeListener[];
    /** In the running config only, in its order. */
    removed: RuntimeListener[];
    /** Same name, any field different: stop accepting and drain `from`, start `to`. */
    changed: { from: RuntimeListener; to: RuntimeListener }[];
    /** Identical in both; left alone. */
    unchanged: RuntimeListener[];
  };
  pathsChanged: boolean;
  mptcpLimitsChanged: boolean;
  policiesChanged: boolean;
  adminChanged: boolean;
  /** The new log level, present only when it changed. */
  logLevel?: string;
  timeoutsChanged: boolean;
  limitsChanged: boolean;
  /** Key paths whose change needs a restart (e.g. "transport", "workers"); non-empty: apply nothing. */
  restartRequired: string[];
  /** Nothing to do: every field above is empty or false. */
  noop: boolean;
}

type Flag = 'pathsChanged' | 'mptcpLimitsChanged' | 'policiesChanged' | 'adminChanged' | 'timeoutsChanged' | 'limitsChanged';

/** How a change to each top-level key is carried out. Keys missing here need a restart. */
// 'read': code reads the running config each time it needs the key, so nothing is to be done.
const LIVE_KEYS: Readonly<Record<string, Flag | 'listeners' | 'log' | 'restart' | 'read'>> = {
  // The transport and the worker threads are built once at start; changing them means a new data plane.
  transport: 'restart',
  workers: 'restart',
  // The path manager type is fixed per connection by the kernel, and workers are pinned per NUMA node at start.
  pathManager: 'restart',
  topology: 'restart',
  // The steering loop reads the scheduler of each connection from the running config.
  scheduler: 'read',
  reevaluateMs: 'read',
  paths: 'pathsChanged',
  mptcp: 'mptcpLimitsChanged',
  policies: 'policiesChanged',
  listeners: 'listeners',
  limits: 'limitsChanged',
  timeouts: 'timeoutsChanged',
  admin: 'adminChanged',
  log: 'log',
};

export function planReload(current: RuntimeConfig, next: RuntimeConfig): ReloadPlan {
  const plan: ReloadPlan = {
    listeners: planListeners(current.listeners, next.listeners),
    pathsChanged: false,
    mptcpLimitsChanged: false,
    policiesChanged: false,
    adminChanged: false,
    timeoutsChanged: false,
    limitsChanged: false,
    restartRequired: [],
    noop: false,
  };

  const from = current as unknown as Record<string, unknown>;
  const to = next as unknown as Record<string, unknown>;
  for (const key of unionOfKeys(from, to)) {
    if (isDeepStrictEqual(from[key], to[key])) continue;
    const how = LIVE_KEYS[key] ?? 'restart';
    if (how === 'listeners' || how === 'read') continue; // planned above, or read where used
    if (how === 'restart') plan.restartRequired.push(key);
    else if (how === 'log') planLog(from[key], to[key], plan);
    else plan[how] = true;
  }

  const l = plan.listeners;
  plan.noop =
    l.added.length === 0 &&
    l.removed.length === 0 &&
    l.changed.length === 0 &&
    plan.restartRequired.length === 0 &&
    plan.logLevel === undefined &&
    !(['pathsChanged', 'mptcpLimitsChanged', 'policiesChanged', 'adminChanged', 'timeoutsChanged', 'limitsChanged'] as const).some((f) => plan[f]);
  return plan;
}

function planListeners(current: readonly RuntimeListener[], next: readonly RuntimeListener[]): ReloadPlan['listeners'] {
  // Names are unique within one config (a cross-field rule), so a map by name is exact.
  const before = new Map(current.map((l) => [l.name, l]));
  const after = new Set(next.map((l) => l.name));
  const out: ReloadPlan['listeners'] = { added: [], removed: [], changed: [], unchanged: [] };
  for (const to of next) {
    const from = before.get(to.name);
    if (from === undefined) out.added.push(to);
    else if (isDeepStrictEqual(from, to)) out.unchanged.push(to);
    else out.changed.push({ from, to });
  }
  for (const from of current) if (!after.has(from.name)) out.removed.push(from);
  return out;
}

/** log.level changes live; any other key under log (none today) needs a restart. */
function planLog(from: unknown, to: unknown, plan: ReloadPlan): void {
  const a = asRecord(from);
  const b = asRecord(to);
  for (const key of unionOfKeys(a, b)) {
    if (isDeepStrictEqual(a[key], b[key])) continue;
    if (key === 'level' && typeof b[key] === 'string') plan.logLevel = b[key] as string;
    else plan.restartRequired.push(`log.${key}`);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

/** Keys of both objects, `a`'s order first, so restartRequired reads like the file. */
function unionOfKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}
