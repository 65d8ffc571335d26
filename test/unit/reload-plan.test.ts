import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RuntimeConfig } from '../../src/config';
import { parseConfig } from '../../src/config/load';
import type { RuntimeListener } from '../../src/config';
import { planReload, type ReloadPlan } from '../../src/reload/plan';

const BASE = `
transport: kernel
workers: 2
paths:
  - { name: nic0, interface: eth0 }
  - { name: nic1, interface: eth1 }
listeners:
  - { name: a, mode: forward, listen: 127.0.0.1:1001, upstream: 198.18.1.2:7001 }
  - { name: b, mode: forward, listen: 127.0.0.1:1002, upstream: 198.18.1.2:7002 }
  - { name: c, mode: inbound, listen: 0.0.0.0:1003, target: 127.0.0.1:7003 }
`;

function base(): RuntimeConfig {
  return structuredClone(parseConfig(BASE, 'base.yaml', { cpus: 2 }).runtime);
}

/** A copy of the base config changed by `edit`; `any` so tests can add keys RuntimeConfig lacks. */
function edited(edit: (c: any) => void): RuntimeConfig {
  const c = base();
  edit(c);
  return c;
}

interface Expect {
  added?: string[];
  removed?: string[];
  changed?: string[];
  unchanged?: string[];
  flags?: (keyof Pick<ReloadPlan, 'pathsChanged' | 'mptcpLimitsChanged' | 'policiesChanged' | 'adminChanged' | 'timeoutsChanged' | 'limitsChanged'>)[];
  logLevel?: string;
  restartRequired?: string[];
  noop?: boolean;
}

const ALL_FLAGS = ['pathsChanged', 'mptcpLimitsChanged', 'policiesChanged', 'adminChanged', 'timeoutsChanged', 'limitsChanged'] as const;

const CASES: { name: string; current?: RuntimeConfig; next: RuntimeConfig; expect: Expect }[] = [
  { name: 'identical configs', next: base(), expect: { unchanged: ['a', 'b', 'c'], noop: true } },
  {
    name: 'listener order only',
    next: edited((c) => c.listeners.reverse()),
    expect: { unchanged: ['c', 'b', 'a'], noop: true },
  },
  {
    name: 'listener added',
    next: edited((c) => c.listeners.push({ ...c.listeners[0], name: 'd', listen: { host: '127.0.0.1', port: 1004, family: 4 } })),
    expect: { added: ['d'], unchanged: ['a', 'b', 'c'] },
  },
  { name: 'listener removed', next: edited((c) => c.listeners.splice(1, 1)), expect: { removed: ['b'], unchanged: ['a', 'c'] } },
  { name: 'listener upstream changed', next: edited((c) => (c.listeners[0].target.port = 9999)), expect: { changed: ['a'], unchanged: ['b', 'c'] } },
  { name: 'listener backlog changed', next: edited((c) => (c.listeners[2].backlog = 16)), expect: { changed: ['c'], unchanged: ['a', 'b'] } },
  {
    name: 'listener mode changed',
    next: edited((c) => (c.listeners[1].mode = 'inbound')),
    expect: { changed: ['b'], unchanged: ['a', 'c'] },
  },
  {
    name: 'a field RuntimeListener does not know yet (e.g. transparent ports)',
    next: edited((c) => (c.listeners[2].ports = [8080])),
    expect: { changed: ['c'], unchanged: ['a', 'b'] },
  },
  {
    name: 'listener renamed: the old one goes, the new one comes',
    next: edited((c) => (c.listeners[0].name = 'a2')),
    expect: { added: ['a2'], removed: ['a'], unchanged: ['b', 'c'] },
  },
  { name: 'paths', next: edited((c) => (c.paths[1].backup = true)), expect: { flags: ['pathsChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'path removed', next: edited((c) => c.paths.pop()), expect: { flags: ['pathsChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'mptcp limits', next: edited((c) => (c.mptcp.subflows = 2)), expect: { flags: ['mptcpLimitsChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'admin', next: edited((c) => (c.admin.listen = null)), expect: { flags: ['adminChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'timeouts', next: edited((c) => (c.timeouts.idleMs = 0)), expect: { flags: ['timeoutsChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'limits', next: edited((c) => (c.limits.maxConnections = 5)), expect: { flags: ['limitsChanged'], unchanged: ['a', 'b', 'c'] } },
  { name: 'log level', next: edited((c) => (c.log.level = 'debug')), expect: { logLevel: 'debug', unchanged: ['a', 'b', 'c'] } },
  {
    name: 'policies added',
    next: edited((c) => (c.policies = [{ name: 'default', action: 'bypass' }])),
    expect: { flags: ['policiesChanged'], unchanged: ['a', 'b', 'c'] },
  },
  {
    name: 'policies edited',
    current: edited((c) => (c.policies = [{ name: 'p', match: { ports: [6379] }, action: 'mptcp' }])),
    next: edited((c) => (c.policies = [{ name: 'p', match: { ports: [6380] }, action: 'mptcp' }])),
    expect: { flags: ['policiesChanged'], unchanged: ['a', 'b', 'c'] },
  },
  {
    name: 'policies equal but rebuilt',
    current: edited((c) => (c.policies = [{ name: 'p', match: { ports: [6379] }, action: 'mptcp' }])),
    next: edited((c) => (c.policies = [{ action: 'mptcp', match: { ports: [6379] }, name: 'p' }])),
    expect: { unchanged: ['a', 'b', 'c'], noop: true },
  },
  { name: 'workers', next: edited((c) => (c.workers = 4)), expect: { restartRequired: ['workers'], unchanged: ['a', 'b', 'c'] } },
  { name: 'transport', next: edited((c) => (c.transport = 'dpdk')), expect: { restartRequired: ['transport'], unchanged: ['a', 'b', 'c'] } },
  {
    name: 'an unclassified top-level key needs a restart',
    next: edited((c) => (c.redirect = { table: 'braid' })),
    expect: { restartRequired: ['redirect'], unchanged: ['a', 'b', 'c'] },
  },
  {
    name: 'an unclassified key under log needs a restart',
    next: edited((c) => (c.log.format = 'text')),
    expect: { restartRequired: ['log.format'], unchanged: ['a', 'b', 'c'] },
  },
  {
    name: 'everything at once',
    next: edited((c) => {
      c.workers = 8;
      c.transport = 'dpdk';
      c.listeners.shift();
      c.listeners[0].backlog = 1;
      c.listeners.push({ ...c.listeners[1], name: 'z' });
      c.paths = [];
      c.mptcp.addAddrAccepted = 0;
      c.admin.listen.port = 1;
      c.timeouts.connectMs = 1;
      c.limits.maxConnections = 1;
      c.log.level = 'error';
      c.policies = [{ name: 'default', action: 'bypass' }];
    }),
    expect: {
      added: ['z'],
      removed: ['a'],
      changed: ['b'],
      unchanged: ['c'],
      flags: [...ALL_FLAGS],
      logLevel: 'error',
      restartRequired: ['transport', 'workers'],
    },
  },
];

describe('planReload', () => {
  for (const tc of CASES) {
    it(tc.name, () => {
      const current = tc.current ?? base();
      const plan = planReload(current, tc.next);
      const names = (ls: readonly { name: string }[]) => ls.map((l) => l.name);
      assert.deepEqual(names(plan.listeners.added), tc.expect.added ?? []);
      assert.deepEqual(names(plan.listeners.removed), tc.expect.removed ?? []);
      assert.deepEqual(names(plan.listeners.changed.map((c) => c.to)), tc.expect.changed ?? []);
      assert.deepEqual(names(plan.listeners.unchanged), tc.expect.unchanged ?? []);
      for (const flag of ALL_FLAGS) assert.equal(plan[flag], (tc.expect.flags ?? []).includes(flag), flag);
      assert.equal(plan.logLevel, tc.expect.logLevel);
      assert.deepEqual(plan.restartRequired, tc.expect.restartRequired ?? []);
      assert.equal(plan.noop, tc.expect.noop ?? false);
    });
  }

  it('pairs a changed listener with its running and its new version', () => {
    const next = edited((c) => (c.listeners[0].target.port = 9999));
    const [pair] = planReload(base(), next).listeners.changed;
    const targetPort = (l: RuntimeListener | undefined): number | undefined => (l && 'target' in l ? l.target.port : undefined);
    assert.equal(targetPort(pair?.from), 7001);
    assert.equal(targetPort(pair?.to), 9999);
  });

  it('works on the frozen configs loadConfigFile returns', () => {
    const a = parseConfig(BASE, 'a.yaml', { cpus: 2 }).runtime;
    const b = parseConfig(BASE.replace('1002', '2002'), 'b.yaml', { cpus: 2 }).runtime;
    assert.ok(Object.isFrozen(a.listeners[0]));
    assert.deepEqual(
      planReload(a, b).listeners.changed.map((c) => c.to.name),
      ['b'],
    );
  });
});
