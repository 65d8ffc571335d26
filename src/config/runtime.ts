// The validated config turned into values code can use directly: numbers instead of
// "auto" and "5s", parsed addresses instead of strings. No rule is checked here.
import { availableParallelism } from 'node:os';
import { parseSocketAddress, type SocketAddress } from './address';
import { parseCidr, parseHost, parsePortRange, type Cidr, type PortRange } from './cidr';
import { DEFAULTS } from './defaults';
import { parseDuration } from './duration';
import type { BraidConfig, ListenerConfig, PathConfig, PolicyConfig } from './schema';

export type { SocketAddress, Cidr, PortRange };

/** forward and inbound: one socket on `listen`, relaying to `target`. */
export interface RuntimeAddressListener {
  name: string;
  mode: 'forward' | 'inbound';
  listen: SocketAddress;
  /** forward: the upstream dialled over MPTCP; inbound: the local target. */
  target: SocketAddress;
  backlog: number;
  /** Undefined: mptcp.scheduler. */
  scheduler?: Scheduler;
  /** Order for backup-ordered; empty: the order of paths[]. */
  paths: string[];
}

/** Outgoing connections captured by policies; dials each one's original destination. */
export interface RuntimeTransparentListener {
  name: string;
  mode: 'transparent';
  /** local: this node's own connections (output hook, REDIRECT); routed: connections it forwards (prerouting, TPROXY). Non-empty, each once. */
  capture: ('local' | 'routed')[];
  backlog: number;
}

/** Incoming connections to `ports` captured by nftables; delivered to `targetHost` on the same port. */
export interface RuntimeTransparentInboundListener {
  name: string;
  mode: 'transparent-inbound';
  ports: number[];
  targetHost: string; // numeric, IPv6 without brackets
  targetFamily: 4 | 6;
  backlog: number;
  scheduler?: Scheduler;
  paths: string[];
}

export type RuntimeListener = RuntimeAddressListener | RuntimeTransparentListener | RuntimeTransparentInboundListener;

/** A policy's match; an empty list means the key was absent (any value matches). */
export interface RuntimeMatch {
  destination: Cidr[];
  ports: PortRange[];
  source: Cidr[];
  uid: number[];
  cgroup: string[];
}

export interface RuntimePolicy {
  name: string;
  match: RuntimeMatch;
  action: PolicyConfig['action'];
  paths: string[];
  /** Meaningful for action mptcp; 'allow' for the other actions. */
  fallback: 'allow' | 'deny';
  scheduler?: Scheduler;
}

export type Scheduler = BraidConfig['mptcp']['scheduler'];

export interface RuntimeConfig {
  transport: BraidConfig['transport'];
  workers: number;
  paths: PathConfig[];
  mptcp: { subflows: number; addAddrAccepted: number };
  pathManager: BraidConfig['mptcp']['pathManager'];
  /** For connections whose listener or policy names no scheduler. */
  scheduler: Scheduler;
  reevaluateMs: number;
  topology: { sysfsRoot: string };
  listeners: RuntimeListener[];
  policies: RuntimePolicy[];
  limits: BraidConfig['limits'];
  timeouts: { connectMs: number; idleMs: number; drainMs: number };
  admin: { listen: SocketAddress | null };
  log: BraidConfig['log'];
}

export function toRuntimeConfig(config: BraidConfig, cpus: number = availableParallelism()): RuntimeConfig {
  return {
    transport: config.transport,
    workers: config.workers === 'auto' ? Math.min(Math.max(cpus, 1), 256) : config.workers,
    paths: config.paths.map((p) => ({ ...p })),
    mptcp: {
      subflows: limit(config.mptcp.subflows, config.paths.length),
      addAddrAccepted: limit(config.mptcp.addAddrAccepted, config.paths.length),
    },
    pathManager: config.mptcp.pathManager,
    scheduler: config.mptcp.scheduler,
    reevaluateMs: ms(config.topology.reevaluate),
    topology: { sysfsRoot: config.topology.sysfsRoot },
    listeners: config.listeners.map(listener),
    policies: config.policies.map(policy),
    limits: { ...config.limits },
    timeouts: {
      connectMs: ms(config.timeouts.connect),
      idleMs: ms(config.timeouts.idle),
      drainMs: ms(config.timeouts.drain),
    },
    admin: { listen: config.admin.listen === 'off' ? null : address(config.admin.listen) },
    log: { ...config.log },
  };
}

function listener(l: ListenerConfig): RuntimeListener {
  switch (l.mode) {
    case 'forward':
    case 'inbound':
      return {
        name: l.name,
        mode: l.mode,
        listen: address(l.listen),
        target: address(l.mode === 'forward' ? l.upstream : l.target),
        backlog: l.backlog,
        ...(l.scheduler !== undefined ? { scheduler: l.scheduler } : {}),
        paths: [...(l.paths ?? [])],
      };
    case 'transparent':
      return { name: l.name, mode: l.mode, capture: [...(l.capture ?? DEFAULTS.listener.capture)], backlog: l.backlog };
    case 'transparent-inbound': {
      const target = parseHost(l.target ?? DEFAULTS.listener.transparentInboundTarget);
      if (target === undefined) throw new Error(`toRuntimeConfig: unvalidated target host "${l.target}"`);
      return {
        name: l.name,
        mode: l.mode,
        ports: [...(l.ports ?? [])],
        targetHost: target.host,
        targetFamily: target.family,
        backlog: l.backlog,
        ...(l.scheduler !== undefined ? { scheduler: l.scheduler } : {}),
        paths: [...(l.paths ?? [])],
      };
    }
  }
}

function policy(p: PolicyConfig): RuntimePolicy {
  const m = p.match ?? {};
  return {
    name: p.name,
    match: {
      destination: (m.destination ?? []).map((c) => parsed(parseCidr(c))),
      ports: (m.ports ?? []).map((port) => (typeof port === 'number' ? { from: port, to: port } : parsed(parsePortRange(port)))),
      source: (m.source ?? []).map((c) => parsed(parseCidr(c))),
      uid: [...(m.uid ?? [])],
      cgroup: [...(m.cgroup ?? [])],
    },
    action: p.action,
    paths: [...(p.paths ?? [])],
    fallback: p.action === 'mptcp' ? (p.fallback ?? DEFAULTS.policy.fallback) : 'allow',
    ...(p.scheduler !== undefined ? { scheduler: p.scheduler } : {}),
  };
}

function parsed<T>(r: { ok: true; value: T } | { ok: false; problem: string }): T {
  if (!r.ok) throw new Error(`toRuntimeConfig: unvalidated value: ${r.problem}`);
  return r.value;
}

// These helpers only see values the schema and crossFieldRules accepted.
function address(text: string | undefined): SocketAddress {
  const parsed = parseSocketAddress(text ?? '', { allowPortZero: true });
  if (!parsed.ok) throw new Error(`toRuntimeConfig: unvalidated address: ${parsed.problem}`);
  return parsed.address;
}

function ms(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`toRuntimeConfig: unvalidated duration: ${parsed.problem}`);
  return parsed.ms;
}

/** "auto": one additional subflow (or accepted announcement) per path beyond the first, at least 1. */
function limit(value: number | 'auto', paths: number): number {
  return value === 'auto' ? Math.min(8, Math.max(1, paths - 1)) : value;
}
