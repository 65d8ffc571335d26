// decide() as a table of connections against sample policies; compileRuleset() by the rules
// it writes for each kind of match; the nft listing parser and the status table on captured
// nft output (test/fixtures/nft). The integration test checks the rules against the kernel.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cidrContains, parseCidr, parseConfigText, type RuntimePolicy } from '../../src/config';
import { formatRedirectTable } from '../../src/commands/redirect-table';
import { BYPASS_MARK, REJECT_MARK, ROUTING_TABLE, TPROXY_MARK, compileRuleset, decide, policyOfComment, type Connection, type RulesetInput } from '../../src/policy';
import { parseListing } from '../../src/redirect';
import { repoRoot } from '../helpers/bad-configs';

function policies(yaml: string): RuntimePolicy[] {
  return [...parseConfigText(`listeners: [{name: out, mode: transparent}]\npolicies:\n${yaml}`, 'p.yaml').runtime.policies];
}

const SAMPLE = policies(`
  - name: storage
    match: {destination: [198.18.8.0/24, "2001:2::/48"], ports: [6379, 7000-7100]}
    action: mptcp
    fallback: deny
  - name: batch
    match: {uid: [1000, 1001], source: [198.18.1.0/24]}
    action: tcp
  - name: app
    match: {cgroup: [system.slice/app.service]}
    action: mptcp
  - name: blocked
    match: {destination: [10.0.0.0/8]}
    action: reject
  - name: default
    action: bypass
`);

const conn = (c: Partial<Connection>): Connection => ({ family: 4, destination: '198.18.8.5', port: 6379, source: '198.18.1.1', ...c });

describe('decide', () => {
  const table: { name: string; conn: Connection; policy: string | null; action?: string; fallback?: string }[] = [
    { name: 'destination and port match', conn: conn({}), policy: 'storage', action: 'mptcp', fallback: 'deny' },
    { name: 'a port inside a range', conn: conn({ port: 7050 }), policy: 'storage' },
    { name: 'the range ends are inclusive', conn: conn({ port: 7100 }), policy: 'storage' },
    { name: 'a port just past the range', conn: conn({ port: 7101 }), policy: 'default', action: 'bypass', fallback: 'allow' },
    { name: 'IPv6 destination in the /48', conn: conn({ family: 6, destination: '2001:2:0:ffff::9', source: '2001:2:0:1::1' }), policy: 'storage' },
    { name: 'IPv6 destination outside the /48', conn: conn({ family: 6, destination: '2001:3::1', source: '2001:2:0:1::1' }), policy: 'default' },
    { name: 'uid and source both match', conn: conn({ destination: '198.18.9.1', uid: 1001 }), policy: 'batch', action: 'tcp' },
    { name: 'uid matches, source does not (keys are ANDed)', conn: conn({ destination: '198.18.9.1', uid: 1000, source: '198.18.2.1' }), policy: 'default' },
    { name: 'no uid known: a uid policy does not match', conn: conn({ destination: '198.18.9.1' }), policy: 'default' },
    { name: 'an IPv6 connection never matches IPv4 sources', conn: conn({ family: 6, destination: '2001:9::1', source: '2001:2::1', uid: 1000 }), policy: 'default' },
    { name: 'cgroup itself', conn: conn({ destination: '198.18.9.1', cgroup: 'system.slice/app.service' }), policy: 'app' },
    { name: 'a cgroup below it, leading slash', conn: conn({ destination: '198.18.9.1', cgroup: '/system.slice/app.service/worker' }), policy: 'app' },
    { name: 'a sibling cgroup with a common prefix', conn: conn({ destination: '198.18.9.1', cgroup: 'system.slice/app.service2' }), policy: 'default' },
    { name: 'reject', conn: conn({ destination: '10.1.2.3', port: 443 }), policy: 'blocked', action: 'reject' },
    { name: 'first match wins over a later one', conn: conn({ destination: '198.18.8.1', uid: 1000 }), policy: 'storage' },
  ];
  for (const t of table) {
    it(t.name, () => {
      const d = decide(SAMPLE, t.conn);
      assert.equal(d?.policy ?? null, t.policy);
      if (t.action !== undefined) assert.equal(d?.action, t.action);
      if (t.fallback !== undefined) assert.equal(d?.fallback, t.fallback);
    });
  }

  it('returns null when no policy matches', () => {
    assert.equal(decide(SAMPLE.slice(0, 4), conn({ destination: '198.18.9.1' })), null);
    assert.equal(decide([], conn({})), null);
  });
});

describe('CIDRs', () => {
  const cases: [string, string, boolean][] = [
    ['198.18.8.0/24', '198.18.8.255', true],
    ['198.18.8.0/24', '198.18.9.0', false],
    ['0.0.0.0/0', '1.2.3.4', true],
    ['0.0.0.0/0', '::1', false],
    ['198.18.8.7', '198.18.8.7', true],
    ['198.18.8.7', '198.18.8.6', false],
    ['2001:2::/48', '2001:2:0:1::1', true],
    ['2001:2::/48', '2001:2:1::1', false],
    ['::ffff:0:0/96', '::ffff:198.18.1.1', true],
    ['::/0', '198.18.1.1', false],
  ];
  for (const [cidr, address, inside] of cases) {
    it(`${address} ${inside ? 'is' : 'is not'} in ${cidr}`, () => {
      const parsed = parseCidr(cidr);
      assert.ok(parsed.ok);
      assert.equal(cidrContains(parsed.value, address), inside);
    });
  }
  it('canonicalises IPv6 and rejects host bits', () => {
    assert.deepEqual(parseCidr('2001:0002:0000::/48'), { ok: true, value: { family: 6, address: '2001:2::', prefix: 48 } });
    const bad = parseCidr('2001:2::1/48');
    assert.ok(!bad.ok && bad.problem.includes('did you mean "2001:2::/48"'), JSON.stringify(bad));
  });
});

function ruleset(ps: RuntimePolicy[], extra: Partial<RulesetInput> = {}): string {
  const ports = new Map(ps.filter((p) => p.action === 'mptcp' || p.action === 'tcp').map((p, i) => [p.name, { v4: 4000 + 2 * i, v6: 4001 + 2 * i }]));
  return compileRuleset({ policies: ps, outboundPorts: ports, inbound: [], mark: BYPASS_MARK, rejectMark: REJECT_MARK, table: 'braid', ...extra });
}

/** The rules of one policy, by their comment. */
function rulesOf(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.endsWith(`comment "braid:${name}"`)).map((l) => l.trim().replace(` comment "braid:${name}"`, ''));
}

describe('compileRuleset', () => {
  it('replaces the table in one transaction: create if absent, delete, add', () => {
    const lines = ruleset(SAMPLE).split('\n');
    assert.deepEqual(lines.slice(0, 3), ['table inet braid {}', 'delete table inet braid', 'table inet braid {']);
    assert.equal(lines.filter((l) => /^table /.test(l)).length, 2);
  });

  it('returns braid\'s own marked traffic, local destinations and replies first', () => {
    const text = ruleset(SAMPLE);
    const outbound = text.slice(text.indexOf('chain outbound {'));
    const rules = outbound.split('\n').filter((l) => l.includes('comment'));
    assert.equal(rules[0]?.trim(), 'meta mark 0x6272 counter return comment "braid:@self"');
    assert.equal(rules[1]?.trim(), 'fib daddr type local counter return comment "braid:@local"');
    assert.equal(rules[2]?.trim(), 'ct direction reply counter return comment "braid:@reply"');
    assert.match(outbound, /type nat hook output priority -100; policy accept;/);
  });

  it('puts a counter and the policy comment on every rule', () => {
    const rules = ruleset(SAMPLE, { inbound: [{ port: 8080, v4: 5000, v6: 5001 }] }).split('\n').filter((l) => /^\t\t(?!type )/.test(l));
    assert.ok(rules.length >= 10);
    for (const r of rules) assert.match(r, / counter .* comment "braid:[@a-z0-9-:]+"$/, r);
  });

  it('keeps policy order: first match wins in nft as in decide()', () => {
    const text = ruleset(SAMPLE);
    const order = [...text.matchAll(/comment "braid:([a-z0-9-]+)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(order)], ['storage', 'batch', 'app', 'blocked', 'default']);
  });

  it('splits a policy with CIDRs of both families into one rule per family, each with its port', () => {
    assert.deepEqual(rulesOf(ruleset(SAMPLE), 'storage'), [
      'meta nfproto ipv4 ip daddr 198.18.8.0/24 tcp dport { 6379, 7000-7100 } counter redirect to :4000',
      'meta nfproto ipv6 ip6 daddr 2001:2::/48 tcp dport { 6379, 7000-7100 } counter redirect to :4001',
    ]);
  });

  it('writes a single-family policy with ip or ip6 alone', () => {
    const ps = policies(`
  - {name: v4, match: {destination: [198.18.8.0/24, 198.18.9.1]}, action: mptcp}
  - {name: v6, match: {source: ["2001:2:0:1::/64"]}, action: tcp}
`);
    const text = ruleset(ps);
    assert.deepEqual(rulesOf(text, 'v4'), ['ip daddr { 198.18.8.0/24, 198.18.9.1/32 } meta l4proto tcp counter redirect to :4000']);
    assert.deepEqual(rulesOf(text, 'v6'), ['ip6 saddr 2001:2:0:1::/64 meta l4proto tcp counter redirect to :4003']);
  });

  it('writes a redirect without addresses once per family, and uid as meta skuid', () => {
    assert.deepEqual(rulesOf(ruleset(SAMPLE), 'batch'), [
      'ip saddr 198.18.1.0/24 meta l4proto tcp meta skuid { 1000, 1001 } counter redirect to :4002',
    ]);
    const ps = policies('  - {name: all, match: {uid: [0]}, action: tcp}\n');
    assert.deepEqual(rulesOf(ruleset(ps), 'all'), [
      'meta nfproto ipv4 meta l4proto tcp meta skuid 0 counter redirect to :4000',
      'meta nfproto ipv6 meta l4proto tcp meta skuid 0 counter redirect to :4001',
    ]);
  });

  it('writes one rule per cgroup with its level', () => {
    const ps = policies('  - {name: app, match: {cgroup: [system.slice/app.service, user.slice], ports: [80]}, action: bypass}\n');
    assert.deepEqual(rulesOf(ruleset(ps), 'app'), [
      'tcp dport 80 socket cgroupv2 level 2 "system.slice/app.service" counter return',
      'tcp dport 80 socket cgroupv2 level 1 "user.slice" counter return',
    ]);
  });

  it('rejects by marking in the nat chain and resetting in a filter chain', () => {
    const text = ruleset(SAMPLE);
    assert.deepEqual(rulesOf(text, 'blocked'), ['ip daddr 10.0.0.0/8 meta l4proto tcp counter meta mark set 0x6273 accept']);
    assert.match(text, /chain outbound_reject \{\n\t\ttype filter hook output priority 0; policy accept;\n\t\tmeta l4proto tcp meta mark 0x6273 counter reject with tcp reset comment "braid:@reject"\n/);
    assert.ok(!ruleset(SAMPLE.filter((p) => p.action !== 'reject')).includes('outbound_reject'), 'no reject chain without reject policies');
  });

  it('bypasses with return, once, when the policy names no address', () => {
    assert.deepEqual(rulesOf(ruleset(SAMPLE), 'default'), ['meta l4proto tcp counter return']);
  });

  it('redirects transparent-inbound ports in prerouting, per family, only to local destinations', () => {
    const text = ruleset([], { inbound: [{ port: 8080, v4: 5000, v6: 5001 }, { port: 8443, v4: 5002, v6: 5003 }] });
    assert.ok(!text.includes('chain outbound'), 'no outbound chain without policies');
    assert.deepEqual(rulesOf(text, '@inbound'), [
      'meta nfproto ipv4 fib daddr type local tcp dport 8080 counter redirect to :5000',
      'meta nfproto ipv6 fib daddr type local tcp dport 8080 counter redirect to :5001',
      'meta nfproto ipv4 fib daddr type local tcp dport 8443 counter redirect to :5002',
      'meta nfproto ipv6 fib daddr type local tcp dport 8443 counter redirect to :5003',
    ]);
    assert.match(text, /chain inbound \{\n\t\ttype nat hook prerouting priority -100; policy accept;\n/);
  });

  it('uses the table name and marks it is given', () => {
    const text = ruleset(SAMPLE, { table: 'braid_test', mark: 0x10, rejectMark: 0x11 });
    assert.ok(text.startsWith('table inet braid_test {}\ndelete table inet braid_test\n'));
    assert.match(text, /meta mark 0x10 counter return/);
    assert.match(text, /meta mark set 0x11 accept/);
  });

  it('refuses a redirect policy without listener ports and a bad table name', () => {
    const base = { policies: SAMPLE, inbound: [], mark: BYPASS_MARK, rejectMark: REJECT_MARK, table: 'braid' };
    assert.throws(() => compileRuleset({ ...base, outboundPorts: new Map() }), /no listener ports for policy "storage"/);
    assert.throws(() => compileRuleset({ ...base, outboundPorts: new Map(), policies: [], table: 'x y' }), /not a table name/);
  });

  it('maps comments back to policies', () => {
    assert.equal(policyOfComment('braid:storage'), 'storage');
    assert.equal(policyOfComment('braid:@self'), '@self');
    assert.equal(policyOfComment('someone else'), undefined);
    assert.equal(policyOfComment(undefined), undefined);
  });
});

/** The rules of one chain, in order, without indentation. */
function chainRules(text: string, name: string): string[] {
  const start = text.indexOf(`\tchain ${name} {\n`);
  if (start < 0) return [];
  const body = text.slice(start, text.indexOf('\n\t}', start));
  return body.split('\n').slice(2).map((l) => l.trim());
}

describe('compileRuleset: routed capture (prerouting, TPROXY)', () => {
  const tproxyPorts = new Map(SAMPLE.filter((p) => p.action === 'mptcp' || p.action === 'tcp').map((p, i) => [p.name, { v4: 6000 + 2 * i, v6: 6001 + 2 * i }]));
  const routed = (ps: RuntimePolicy[], extra: Partial<RulesetInput> = {}): string => {
    const ports = new Map(ps.filter((p) => p.action === 'mptcp' || p.action === 'tcp').map((p, i) => [p.name, { v4: 6000 + 2 * i, v6: 6001 + 2 * i }]));
    return ruleset(ps, { routed: { ports, mark: TPROXY_MARK }, ...extra });
  };

  it('documents its mark and routing table as the same number, apart from braid\'s other marks', () => {
    assert.equal(TPROXY_MARK, 0x6274);
    assert.equal(ROUTING_TABLE, 25204);
    assert.equal(ROUTING_TABLE, TPROXY_MARK);
    assert.equal(new Set([BYPASS_MARK, REJECT_MARK, TPROXY_MARK]).size, 3);
  });

  it('adds no routed chain without routed input, and keeps the output chain as before', () => {
    const text = ruleset(SAMPLE);
    assert.ok(!text.includes('chain routed'), text);
    assert.ok(!text.includes('tproxy'), text);
  });

  it('hooks prerouting as a filter chain at mangle priority, with its own rules first', () => {
    const text = routed(SAMPLE);
    assert.match(text, /\tchain routed \{\n\t\ttype filter hook prerouting priority mangle; policy accept;\n/);
    assert.deepEqual(chainRules(text, 'routed').slice(0, 4), [
      'meta l4proto != tcp counter return comment "braid:@non-tcp"',
      'fib daddr type local counter return comment "braid:@local"',
      'socket transparent 1 counter meta mark set 0x6274 accept comment "braid:@established"',
      'tcp flags & (fin | syn | rst | ack) != syn counter return comment "braid:@non-syn"',
    ]);
  });

  // Each policy's rules in the routed chain, by kind of policy.
  const table: { name: string; yaml: string; policy: string; rules: string[] }[] = [
    {
      name: 'mptcp with CIDRs of both families: tproxy per family, each with its port, and the mark',
      yaml: '  - {name: storage, match: {destination: [198.18.8.0/24, "2001:2::/48"], ports: [6379, 7000-7100]}, action: mptcp}\n',
      policy: 'storage',
      rules: [
        'meta nfproto ipv4 ip daddr 198.18.8.0/24 tcp dport { 6379, 7000-7100 } counter tproxy ip to :6000 meta mark set 0x6274 accept',
        'meta nfproto ipv6 ip6 daddr 2001:2::/48 tcp dport { 6379, 7000-7100 } counter tproxy ip6 to :6001 meta mark set 0x6274 accept',
      ],
    },
    {
      name: 'tcp without addresses: one rule per family',
      yaml: '  - {name: plain, match: {ports: [80]}, action: tcp}\n',
      policy: 'plain',
      rules: [
        'meta nfproto ipv4 tcp dport 80 counter tproxy ip to :6000 meta mark set 0x6274 accept',
        'meta nfproto ipv6 tcp dport 80 counter tproxy ip6 to :6001 meta mark set 0x6274 accept',
      ],
    },
    {
      name: 'a single-family source: the pod\'s address, ip6 alone',
      yaml: '  - {name: pods, match: {source: ["2001:2:0:100::/64"]}, action: mptcp}\n',
      policy: 'pods',
      rules: ['ip6 saddr 2001:2:0:100::/64 meta l4proto tcp counter tproxy ip6 to :6001 meta mark set 0x6274 accept'],
    },
    {
      name: 'bypass accepts: the packet is forwarded as it is',
      yaml: '  - {name: default, action: bypass}\n',
      policy: 'default',
      rules: ['meta l4proto tcp counter accept'],
    },
    {
      name: 'reject resets in the chain itself',
      yaml: '  - {name: blocked, match: {destination: [10.0.0.0/8]}, action: reject}\n',
      policy: 'blocked',
      rules: ['ip daddr 10.0.0.0/8 meta l4proto tcp counter reject with tcp reset'],
    },
    {
      name: 'a uid policy has no rule: routed traffic has no socket owner',
      yaml: '  - {name: mine, match: {uid: [0], ports: [9000]}, action: tcp}\n',
      policy: 'mine',
      rules: [],
    },
    {
      name: 'a cgroup policy has none either',
      yaml: '  - {name: app, match: {cgroup: [system.slice/app.service]}, action: reject}\n',
      policy: 'app',
      rules: [],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const text = routed(policies(t.yaml));
      assert.deepEqual(rulesOf(chainRules(text, 'routed').join('\n'), t.policy), t.rules);
    });
  }

  it('keeps the order of the policies it keeps, and skips uid and cgroup ones', () => {
    const text = routed(SAMPLE);
    const order = [...chainRules(text, 'routed').join('\n').matchAll(/comment "braid:([a-z0-9-]+)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(order)], ['storage', 'blocked', 'default']);
    // Local capture keeps every policy.
    const local = [...chainRules(text, 'outbound').join('\n').matchAll(/comment "braid:([a-z0-9-]+)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(local)], ['storage', 'batch', 'app', 'blocked', 'default']);
  });

  it('counts and names every rule', () => {
    for (const r of chainRules(routed(SAMPLE), 'routed')) assert.match(r, / counter .* comment "braid:[@a-z0-9-]+"$/, r);
  });

  it('without local capture has no output chains, only the routed one', () => {
    const text = routed(SAMPLE, { local: false });
    assert.ok(!text.includes('chain outbound'), text);
    assert.ok(text.includes('chain routed {'), text);
    assert.deepEqual(chainRules(routed(SAMPLE, { local: false }), 'routed'), chainRules(routed(SAMPLE), 'routed'));
  });

  it('keeps marking established flows with no policies at all (a draining braid takes nothing new)', () => {
    const text = routed([], { local: false });
    assert.deepEqual(chainRules(text, 'routed'), [
      'meta l4proto != tcp counter return comment "braid:@non-tcp"',
      'fib daddr type local counter return comment "braid:@local"',
      'socket transparent 1 counter meta mark set 0x6274 accept comment "braid:@established"',
      'tcp flags & (fin | syn | rst | ack) != syn counter return comment "braid:@non-syn"',
    ]);
  });

  it('uses the mark it is given', () => {
    const text = ruleset(SAMPLE, { routed: { ports: tproxyPorts, mark: 0x99 } });
    assert.match(text, /socket transparent 1 counter meta mark set 0x99 accept/);
    assert.match(text, /tproxy ip to :6000 meta mark set 0x99 accept comment "braid:storage"/);
  });

  it('refuses a tproxy policy without TPROXY listener ports', () => {
    assert.throws(() => ruleset(SAMPLE, { routed: { ports: new Map(), mark: TPROXY_MARK } }), /no TPROXY listener ports for policy "storage"/);
    // A uid-only redirect policy needs none: it has no routed rule.
    const ps = policies('  - {name: mine, match: {uid: [0]}, action: tcp}\n');
    assert.doesNotThrow(() => ruleset(ps, { routed: { ports: new Map(), mark: TPROXY_MARK } }));
  });
});

describe('nft listing', () => {
  const dir = join(repoRoot, 'test', 'fixtures', 'nft');
  const rules = parseListing(readFileSync(join(dir, 'braid-table.json'), 'utf8'), readFileSync(join(dir, 'braid-table.txt'), 'utf8'));

  it('gives each rule its policy, hook, family, counters and text', () => {
    assert.equal(rules.length, 11);
    assert.deepEqual(rules[2], {
      policy: 'storage',
      chain: 'outbound',
      hook: 'output',
      family: 'ipv4',
      packets: 3,
      bytes: 180,
      rule: 'ip daddr { 198.18.8.0/24, 198.18.9.7 } tcp dport { 6379, 7000-7100 } meta skuid { 0, 1000 } redirect to :4001',
      handle: rules[2]!.handle,
    });
    assert.deepEqual(rules.map((r) => `${r.policy}/${r.hook}/${r.family}`), [
      '@self/output/any',
      '@local/output/any',
      'storage/output/ipv4',
      'storage/output/ipv6',
      'plain/output/ipv4',
      'noisy/output/ipv4',
      'noisy/output/ipv6',
      'rest/output/any',
      '@reject/output/any',
      '@inbound/prerouting/ipv4',
      '@inbound/prerouting/ipv6',
    ]);
    for (const r of rules) assert.ok(r.rule !== '' && !r.rule.includes('counter') && !r.rule.includes('comment') && !r.rule.includes('handle'), r.rule);
  });

  it('formats a table with counters and a summary, and says when none is installed', () => {
    const text = formatRedirectTable({ table: 'inet braid', installed: true, rules });
    const lines = text.split('\n');
    assert.match(lines[0]!, /^POLICY +HOOK +FAMILY +PACKETS +BYTES +RULE$/);
    assert.match(lines[3]!, /^storage +output +ipv4 +3 +180 B +ip daddr \{ 198\.18\.8\.0\/24/);
    assert.match(text, /table inet braid: 11 rules, 4 policies\n$/);
    assert.equal(formatRedirectTable({ table: 'inet braid', installed: false, rules: [] }), 'no braid table installed (table inet braid)\n');
  });
});
