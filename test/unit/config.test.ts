import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BraidError } from '../../src/errors';
import {
  ConfigError,
  DEFAULTS,
  configJsonSchema,
  loadConfigFile,
  parseConfigText,
  type ConfigIssue,
  type RuntimeAddressListener,
  type RuntimeListener,
} from '../../src/config';
import { parseSocketAddress } from '../../src/config/address';
import { parseDuration } from '../../src/config/duration';
import { parseConfig } from '../../src/config/load';
import { badConfigFixtures, repoRoot } from '../helpers/bad-configs';

const FORWARD = `listeners:
  - name: redis-out
    mode: forward
    listen: 127.0.0.1:16379
    upstream: 198.18.1.2:7379
`;

function addressListener(l: RuntimeListener | undefined): RuntimeAddressListener {
  assert.ok(l !== undefined && (l.mode === 'forward' || l.mode === 'inbound'), `not a forward or inbound listener: ${JSON.stringify(l)}`);
  return l;
}

function issuesOf(text: string, source = 'test.yaml'): readonly ConfigIssue[] {
  try {
    parseConfigText(text, source);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the config to be rejected');
}

describe('valid configs', () => {
  it('resolves mptcp limits "auto" to one per path beyond the first', () => {
    const paths = (n: number) =>
      `paths:\n${Array.from({ length: n }, (_, i) => `  - { name: nic${i}, interface: eth${i} }`).join('\n')}\n`;
    for (const [n, expected] of [[1, 1], [2, 1], [3, 2], [12, 8]] as const) {
      const { runtime } = parseConfig(paths(n) + FORWARD, 'auto.yaml', { cpus: 1 });
      assert.deepEqual(runtime.mptcp, { subflows: expected, addAddrAccepted: expected }, `${n} paths`);
    }
    const fixed = parseConfig(`mptcp: { subflows: 4, addAddrAccepted: 0 }\n${FORWARD}`, 'fixed.yaml', { cpus: 1 });
    assert.deepEqual(fixed.runtime.mptcp, { subflows: 4, addAddrAccepted: 0 });
  });

  it('fills every default into a minimal file', () => {
    const { config, runtime, source } = parseConfig(FORWARD, 'min.yaml', { cpus: 3 });
    assert.equal(source, 'min.yaml');
    assert.deepEqual(config, {
      transport: 'kernel',
      workers: 'auto',
      paths: [],
      mptcp: { subflows: 'auto', addAddrAccepted: 'auto', pathManager: 'kernel', scheduler: 'default' },
      topology: { sysfsRoot: '/sys', reevaluate: '1s' },
      listeners: [{ name: 'redis-out', mode: 'forward', listen: '127.0.0.1:16379', upstream: '198.18.1.2:7379', backlog: 1024 }],
      policies: [],
      limits: { maxConnections: 10000 },
      timeouts: { connect: '5s', idle: '15m', drain: '30s' },
      admin: { listen: '127.0.0.1:9464' },
      log: { level: 'info' },
    });
    assert.deepEqual(runtime, {
      transport: 'kernel',
      workers: 3,
      paths: [],
      mptcp: { subflows: 1, addAddrAccepted: 1 },
      pathManager: 'kernel',
      scheduler: 'default',
      reevaluateMs: 1000,
      topology: { sysfsRoot: '/sys' },
      listeners: [
        {
          name: 'redis-out',
          mode: 'forward',
          listen: { host: '127.0.0.1', port: 16379, family: 4 },
          target: { host: '198.18.1.2', port: 7379, family: 4 },
          backlog: 1024,
          paths: [],
        },
      ],
      policies: [],
      limits: { maxConnections: 10000 },
      timeouts: { connectMs: 5000, idleMs: 900_000, drainMs: 30_000 },
      admin: { listen: { host: '127.0.0.1', port: 9464, family: 4 } },
      log: { level: 'info' },
    });
  });

  it('fills defaults inside partly written sections and list items', () => {
    const { config } = parseConfigText(`${FORWARD}paths:\n  - name: nic0\n    interface: eth0\n    backup: true\ntimeouts:\n  idle: 0s\n`, 't.yaml');
    assert.deepEqual(config.paths, [{ name: 'nic0', interface: 'eth0', backup: true, signal: true, subflow: true }]);
    assert.deepEqual(config.timeouts, { connect: '5s', idle: '0s', drain: '30s' });
  });

  it('loads examples/braid.yaml', () => {
    const loaded = loadConfigFile(join(repoRoot, 'examples', 'braid.yaml'));
    assert.equal(loaded.runtime.listeners.length, 2);
    assert.deepEqual(addressListener(loaded.runtime.listeners[1]).target, { host: '127.0.0.1', port: 6379, family: 4 });
  });

  const table: { name: string; yaml: string; check(l: ReturnType<typeof parseConfigText>): void }[] = [
    {
      name: 'IPv6 addresses are canonical, without brackets',
      yaml: `listeners:\n  - {name: a, mode: inbound, listen: "[2001:DB8:0::1]:0", target: "[::1]:6379"}\n`,
      check: (l) => {
        assert.deepEqual(addressListener(l.runtime.listeners[0]).listen, { host: '2001:db8::1', port: 0, family: 6 });
        assert.deepEqual(addressListener(l.runtime.listeners[0]).target, { host: '::1', port: 6379, family: 6 });
      },
    },
    {
      name: 'admin off gives null; integer workers kept',
      yaml: `${FORWARD}admin: {listen: "off"}\nworkers: 4\n`,
      check: (l) => {
        assert.equal(l.runtime.admin.listen, null);
        assert.equal(l.runtime.workers, 4);
      },
    },
    {
      name: 'durations in every unit',
      yaml: `${FORWARD}timeouts: {connect: 500ms, idle: 2h, drain: 1m}\n`,
      check: (l) => assert.deepEqual(l.runtime.timeouts, { connectMs: 500, idleMs: 7_200_000, drainMs: 60_000 }),
    },
    {
      name: 'binds that do not collide: port 0 twice, other hosts, other family',
      yaml: `listeners:
  - {name: a, mode: inbound, listen: "127.0.0.1:0", target: "127.0.0.1:1"}
  - {name: b, mode: inbound, listen: "127.0.0.1:0", target: "127.0.0.1:1"}
  - {name: c, mode: inbound, listen: "0.0.0.0:80", target: "127.0.0.1:1"}
  - {name: d, mode: inbound, listen: "[::1]:80", target: "127.0.0.1:1"}
  - {name: e, mode: inbound, listen: "127.0.0.1:81", target: "127.0.0.1:1"}
  - {name: f, mode: inbound, listen: "127.0.0.2:81", target: "127.0.0.1:1"}
`,
      check: (l) => assert.equal(l.runtime.listeners.length, 6),
    },
    {
      name: 'anchors and aliases resolve',
      yaml: `listeners:\n  - {name: a, mode: forward, listen: "127.0.0.1:1", upstream: &dst "198.18.1.2:7379"}\n  - {name: b, mode: forward, listen: "127.0.0.1:2", upstream: *dst}\n`,
      check: (l) => assert.equal(l.config.listeners[1]?.upstream, '198.18.1.2:7379'),
    },
  ];
  for (const t of table) it(t.name, () => t.check(parseConfigText(t.yaml, 't.yaml')));

  it('parses a transparent config: listeners of every transparent kind and policies', () => {
    const { config, runtime } = parseConfigText(
      `paths: [{name: nic0, interface: eth0}]
listeners:
  - {name: out, mode: transparent}
  - {name: web, mode: transparent-inbound, ports: [8080, 8443]}
  - {name: web6, mode: transparent-inbound, ports: [9000], target: "0:0::1"}
policies:
  - name: storage
    match:
      destination: [198.18.8.0/24, "2001:2:0::/48", 198.18.9.7]
      ports: [6379, 7000-7100]
      source: [198.18.1.0/24]
      uid: [0, 1000]
      cgroup: [system.slice/app.service]
    action: mptcp
    paths: [nic0]
  - {name: plain, match: {ports: [80]}, action: tcp}
  - {name: deny, match: {}, action: reject}
`,
      't.yaml',
    );
    assert.equal(config.policies[0]?.fallback, undefined, 'fallback is not invented into the effective config');
    assert.deepEqual(runtime.listeners.slice(0, 3), [
      { name: 'out', mode: 'transparent', capture: ['local'], backlog: 1024 },
      { name: 'web', mode: 'transparent-inbound', ports: [8080, 8443], targetHost: '127.0.0.1', targetFamily: 4, backlog: 1024, paths: [] },
      { name: 'web6', mode: 'transparent-inbound', ports: [9000], targetHost: '::1', targetFamily: 6, backlog: 1024, paths: [] },
    ]);
    assert.deepEqual(runtime.policies, [
      {
        name: 'storage',
        match: {
          destination: [
            { family: 4, address: '198.18.8.0', prefix: 24 },
            { family: 6, address: '2001:2::', prefix: 48 },
            { family: 4, address: '198.18.9.7', prefix: 32 },
          ],
          ports: [{ from: 6379, to: 6379 }, { from: 7000, to: 7100 }],
          source: [{ family: 4, address: '198.18.1.0', prefix: 24 }],
          uid: [0, 1000],
          cgroup: ['system.slice/app.service'],
        },
        action: 'mptcp',
        paths: ['nic0'],
        fallback: 'allow',
      },
      { name: 'plain', match: { destination: [], ports: [{ from: 80, to: 80 }], source: [], uid: [], cgroup: [] }, action: 'tcp', paths: [], fallback: 'allow' },
      { name: 'deny', match: { destination: [], ports: [], source: [], uid: [], cgroup: [] }, action: 'reject', paths: [], fallback: 'allow' },
    ]);
  });

  it('takes capture as written on a transparent listener, and keeps uid and cgroup policies with routed capture', () => {
    const { config, runtime } = parseConfigText(
      `listeners: [{name: out, mode: transparent, capture: [routed, local]}]
policies:
  - {name: mine, match: {uid: [0]}, action: tcp}
  - {name: app, match: {cgroup: [system.slice/app.service]}, action: bypass}
  - {name: all, action: mptcp}
`,
      't.yaml',
    );
    assert.deepEqual(config.listeners[0]?.capture, ['routed', 'local']);
    assert.deepEqual(runtime.listeners[0], { name: 'out', mode: 'transparent', capture: ['routed', 'local'], backlog: 1024 });
    assert.deepEqual(runtime.policies.map((p) => p.name), ['mine', 'app', 'all']);
    const routedOnly = parseConfigText('listeners: [{name: out, mode: transparent, capture: [routed]}]\npolicies: [{name: all, action: mptcp}]\n', 't.yaml');
    assert.deepEqual(routedOnly.runtime.listeners[0], { name: 'out', mode: 'transparent', capture: ['routed'], backlog: 1024 });
  });

  it('does not invent capture into the effective config of any listener', () => {
    const { config } = parseConfigText('listeners: [{name: out, mode: transparent}]\npolicies: [{name: all, action: mptcp}]\n', 't.yaml');
    assert.equal(config.listeners[0]?.capture, undefined);
  });

  it('keeps fallback deny of an mptcp policy', () => {
    const { runtime } = parseConfigText(
      'listeners: [{name: out, mode: transparent}]\npolicies: [{name: all, action: mptcp, fallback: deny}]\n',
      't.yaml',
    );
    assert.equal(runtime.policies[0]?.fallback, 'deny');
  });

  it('freezes what it returns', () => {
    const loaded = parseConfigText(FORWARD, 't.yaml');
    assert.ok(Object.isFrozen(loaded.config.listeners[0]));
    assert.ok(Object.isFrozen(loaded.runtime.timeouts));
  });

  it('prints the effective config in schema order whatever order the file used', () => {
    const { config } = parseConfigText(`log: {level: warn}\n${FORWARD}transport: kernel\n`, 't.yaml');
    assert.deepEqual(Object.keys(config), ['transport', 'workers', 'paths', 'mptcp', 'topology', 'listeners', 'policies', 'limits', 'timeouts', 'admin', 'log']);
  });
});

describe('bad configs (test/fixtures/bad-configs)', () => {
  const fixtures = badConfigFixtures();
  it('has the fixtures', () => assert.ok(fixtures.length >= 12));
  for (const f of fixtures) {
    it(`${f.name}: ${f.path} line ${f.line}`, () => {
      let caught: unknown;
      try {
        parseConfigText(f.text, f.name);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
      assert.equal(caught.code, f.code);
      assert.equal(caught.exitCode, 2);
      const issue = caught.issues.find((i) => i.path === f.path);
      assert.ok(issue, `no issue at ${f.path}; got ${JSON.stringify(caught.issues)}`);
      assert.equal(issue.line, f.line, issue.message);
      if (f.message !== undefined) assert.ok(issue.message.includes(f.message), `message ${JSON.stringify(issue.message)} lacks ${JSON.stringify(f.message)}`);
      assert.ok(issue.column >= 1);
      assert.ok(caught.message.includes(`${f.name}:${issue.line}:${issue.column}: ${f.path}: ${issue.message}`), caught.message);
    });
  }
});

describe('issues', () => {
  it('reports every schema problem at once, in file order', () => {
    const issues = issuesOf(`workers: 0\nlisteners:\n  - name: A\n    mode: sideways\n    listen: x\n    extra: 1\nlog: {level: loud}\n`);
    assert.deepEqual(
      issues.map((i) => [i.path, i.line]),
      [
        ['workers', 1],
        ['listeners[0].name', 3],
        ['listeners[0].mode', 4],
        ['listeners[0].listen', 5],
        ['listeners[0].extra', 6],
        ['log.level', 7],
      ],
    );
  });

  it('points a missing key at the mapping that lacks it', () => {
    const issues = issuesOf(`listeners:\n  - name: a\n    listen: 127.0.0.1:1\n`);
    assert.deepEqual(issues.map((i) => [i.path, i.line, i.column]), [['listeners[0].mode', 2, 5]]);
  });

  it('points an unknown key at the key, not its value', () => {
    const issues = issuesOf(`${FORWARD}limits:\n  maxConnection:\n    5\n`);
    assert.deepEqual(issues.map((i) => [i.path, i.line, i.column]), [['limits.maxConnection', 7, 3]]);
    assert.match(issues[0]!.message, /did you mean "maxConnections"/);
  });

  const rejected: { name: string; yaml: string; path: string; message: RegExp }[] = [
    { name: 'empty file', yaml: '', path: '', message: /empty/ },
    { name: 'a list at the top', yaml: '- a\n', path: '', message: /must be a mapping/ },
    { name: 'IPv6 zone id', yaml: FORWARD.replace('198.18.1.2:7379', '"[fe80::1%eth0]:80"'), path: 'listeners[0].upstream', message: /zone/ },
    { name: 'address without port', yaml: FORWARD.replace('198.18.1.2:7379', '198.18.1.2'), path: 'listeners[0].upstream', message: /no port/ },
    { name: 'interface ..', yaml: `${FORWARD}paths: [{name: p, interface: ".."}]\n`, path: 'paths[0].interface', message: /interface name/ },
    { name: 'duration too long', yaml: `${FORWARD}timeouts: {drain: 600h}\n`, path: 'timeouts.drain', message: /too long/ },
    { name: 'numeric duration', yaml: `${FORWARD}timeouts: {drain: 30}\n`, path: 'timeouts.drain', message: /must be a string/ },
    { name: '[::] collides with an IPv4 bind', yaml: `${FORWARD}admin: {listen: "[::]:16379"}\n`, path: 'admin.listen', message: /collides/ },
    { name: 'unknown key lists the allowed ones', yaml: `${FORWARD}log: {zzz: 1}\n`, path: 'log.zzz', message: /allowed here: level/ },
    { name: 'multiple documents', yaml: `${FORWARD}---\n${FORWARD}`, path: '', message: /multiple documents/ },
  ];
  for (const r of rejected) {
    it(`rejects ${r.name}`, () => {
      const issues = issuesOf(r.yaml);
      const issue = issues.find((i) => i.path === r.path);
      assert.ok(issue, JSON.stringify(issues));
      assert.match(issue.message, r.message);
    });
  }

  it('names the replacement of a retired key', () => {
    const retiredKeys = [{ path: 'listeners[].connectTimeout', replacement: 'timeouts.connect', since: '0.2.0' }];
    assert.throws(
      () => parseConfig(`${FORWARD}    connectTimeout: 5s\n`, 't.yaml', { retiredKeys }),
      (err: ConfigError) => {
        assert.equal(err.issues[0]?.path, 'listeners[0].connectTimeout');
        assert.equal(err.issues[0]?.message, '"connectTimeout" was retired in braid 0.2.0; use "timeouts.connect" instead');
        return true;
      },
    );
  });

  it('reports an unreadable file as BRAID_CONFIG_READ', () => {
    const dir = mkdtempSync(join(tmpdir(), 'braid-config-'));
    try {
      for (const path of [join(dir, 'missing.yaml'), dir]) {
        assert.throws(
          () => loadConfigFile(path),
          (err: unknown) => err instanceof BraidError && !(err instanceof ConfigError) && err.code === 'BRAID_CONFIG_READ' && err.message.includes(path),
        );
      }
      const good = join(dir, 'good.yaml');
      writeFileSync(good, FORWARD);
      assert.equal(loadConfigFile(good).source, good);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('address and duration parsing', () => {
  const addresses: [string, boolean, string | { host: string; port: number; family: 4 | 6 }][] = [
    ['1.2.3.4:5', false, { host: '1.2.3.4', port: 5, family: 4 }],
    ['[::ffff:1.2.3.4]:5', false, { host: '::ffff:102:304', port: 5, family: 6 }],
    ['1.2.3.4:0', true, { host: '1.2.3.4', port: 0, family: 4 }],
    ['1.2.3.4:0', false, 'from 1 to 65535'],
    ['1.2.3.4:65536', true, 'from 0 to 65535'],
    ['1.2.3.4:+80', true, 'must be an integer'],
    ['01.2.3.4:80', true, 'not a numeric IP'],
    ['example.com:80', true, 'host names are not resolved'],
    ['::1:80', true, 'needs brackets'],
    ['[::1]', true, 'no port'],
    ['[1.2.3.4]:80', true, 'not a numeric IPv6'],
    ['1.2.3.4', true, 'no port'],
  ];
  for (const [text, allowPortZero, want] of addresses) {
    it(`address ${text}${allowPortZero ? ' (listen)' : ''}`, () => {
      const got = parseSocketAddress(text, { allowPortZero });
      if (typeof want === 'string') {
        assert.equal(got.ok, false);
        assert.ok(!got.ok && got.problem.includes(want), JSON.stringify(got));
      } else {
        assert.deepEqual(got, { ok: true, address: want });
      }
    });
  }

  const durations: [string, number | undefined][] = [
    ['0s', 0],
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['596h', 596 * 3_600_000],
    ['597h', undefined],
    ['1.5s', undefined],
    ['5 s', undefined],
    ['5', undefined],
    ['1d', undefined],
  ];
  for (const [text, ms] of durations) {
    it(`duration ${text}`, () => {
      const got = parseDuration(text);
      assert.deepEqual(got.ok ? got.ms : undefined, ms);
    });
  }
});

describe('JSON Schema', () => {
  type Node = Record<string, unknown>;
  const objects = (node: Node, path: string, out: [string, Node][]) => {
    if (node['type'] === 'object') out.push([path, node]);
    for (const [k, v] of Object.entries((node['properties'] ?? {}) as Record<string, Node>)) objects(v, `${path}.${k}`, out);
    if (node['items']) objects(node['items'] as Node, `${path}[]`, out);
    return out;
  };

  it('forbids unknown keys in every mapping and documents every key', () => {
    const all = objects(configJsonSchema(), '', []);
    assert.ok(all.length >= 8);
    for (const [path, node] of all) {
      assert.equal(node['additionalProperties'], false, path);
      for (const [k, v] of Object.entries(node['properties'] as Record<string, Node>)) {
        assert.ok(typeof v['description'] === 'string' && v['description'].length > 10, `${path}.${k} has no description`);
      }
    }
  });

  it('carries the defaults from DEFAULTS', () => {
    const s = configJsonSchema() as { properties: Record<string, { default?: unknown }> };
    assert.equal(s.properties['transport']?.default, DEFAULTS.transport);
    assert.deepEqual(s.properties['timeouts']?.default, DEFAULTS.timeouts);
    assert.equal(s.properties['listeners']?.default, undefined);
  });

  it('schema/braid.schema.json is current (npm run build:ts rewrites it)', () => {
    const file = JSON.parse(readFileSync(join(repoRoot, 'schema', 'braid.schema.json'), 'utf8'));
    assert.deepEqual(file, configJsonSchema());
  });
});
