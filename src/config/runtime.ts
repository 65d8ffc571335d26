// The validated config turned into values code can use directly: numbers instead of
// "auto" and "5s", parsed addresses instead of strings. No rule is checked here.
import { availableParallelism } from 'node:os';
import { parseSocketAddress, type SocketAddress } from './address';
import { parseDuration } from './duration';
import type { BraidConfig, ListenerConfig, PathConfig } from './schema';

export type { SocketAddress };

export interface RuntimeListener {
  name: string;
  mode: ListenerConfig['mode'];
  listen: SocketAddress;
  /** forward: the upstream dialled over MPTCP; inbound: the local target. */
  target: SocketAddress;
  backlog: number;
}

export interface RuntimeConfig {
  transport: BraidConfig['transport'];
  workers: number;
  paths: PathConfig[];
  mptcp: BraidConfig['mptcp'];
  listeners: RuntimeListener[];
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
    mptcp: { ...config.mptcp },
    listeners: config.listeners.map((l) => ({
      name: l.name,
      mode: l.mode,
      listen: address(l.listen),
      target: address(l.mode === 'forward' ? l.upstream : l.target),
      backlog: l.backlog,
    })),
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

// Both helpers only see values the schema and crossFieldRules accepted.
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
