// Every default of the configuration, in one place. The schema copies these into its
// `default` annotations (so the JSON Schema and docs/config.md show them) and ajv fills
// missing keys from there; nothing else in braid may invent a default of its own.

import { deepFreeze } from './freeze';

export const DEFAULTS = deepFreeze({
  transport: 'kernel',
  workers: 'auto',
  paths: [] as never[],
  path: { backup: false, signal: true, subflow: true },
  mptcp: { subflows: 'auto', addAddrAccepted: 'auto', pathManager: 'kernel', scheduler: 'default' },
  topology: { sysfsRoot: '/sys', reevaluate: '1s' },
  listener: { backlog: 1024, transparentInboundTarget: '127.0.0.1', capture: ['local'] as readonly ('local' | 'routed')[] },
  policies: [] as never[],
  policy: { fallback: 'allow' },
  limits: { maxConnections: 10000 },
  timeouts: { connect: '5s', idle: '15m', drain: '30s' },
  admin: { listen: '127.0.0.1:9464' },
  log: { level: 'info' },
} as const);
