// braid's nftables table against the kernel: a two-node bed (node 0 holds the table, node 1 the
// real destinations), small servers that name themselves standing in for braid's listeners,
// socat as the application. Each case's outcome is checked against a hand-written expectation
// and against decide(), so the rules and the reference implementation cannot drift apart.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText, type RuntimePolicy } from '../../src/config';
import { isBraidError } from '../../src/errors';
import { BYPASS_MARK, REJECT_MARK, TABLE, compileRuleset, decide, type ListenerPorts } from '../../src/policy';
import { RedirectTable } from '../../src/redirect';
import { Testbed } from '../../src/testbed';

const FIXTURES = path.resolve(__dirname, '../fixtures');
const CLI = path.resolve(__dirname, '../../src/cli.js');

const POLICIES = `
  - name: storage
    match: {destination: [198.18.1.0/24, "2001:2:0:1::/64"], ports: [6379, 7000-7100]}
    action: mptcp
  - name: plain
    match: {ports: [80]}
    action: tcp
  - name: blocked
    match: {destination: [198.18.1.10]}
    action: reject
  - name: mine
    match: {uid: [0], ports: [9000]}
    action: tcp
  - name: other
    match: {uid: [4242], ports: [9001]}
    action: mptcp
  - name: default
    action: bypass
`;
const REAL_PORTS = [6379, 7050, 80, 443, 9000, 9001];
const INBOUND_PORT = 8080;
const OTHER_UID = 4242;

interface Case {
  name: string;
  family: 4 | 6;
  host: string;
  port: number;
  uid?: number;
  mark?: boolean;
  /** Which server answered ("real", "local", "<policy>-v4", ...) or "refused". */
  expect: string;
}

describe('redirect table (nftables) in a network namespace', () => {
  let bed: Testbed;
  let table: RedirectTable;
  let policies: RuntimePolicy[];
  let ruleset: string;
  const server4 = '198.18.1.2';
  const server6 = '2001:2:0:1::2';
  const blocked = '198.18.1.10';
  const local4 = '198.18.1.1';
  const local6 = '2001:2:0:1::1';

  const cases: Case[] = [
    { name: 'a storage port over IPv4 goes to the storage listener', family: 4, host: server4, port: 6379, expect: 'storage-v4' },
    { name: 'a port inside the storage range too', family: 4, host: server4, port: 7050, expect: 'storage-v4' },
    { name: 'storage over IPv6 goes to the IPv6 listener', family: 6, host: server6, port: 6379, expect: 'storage-v6' },
    { name: 'the tcp policy over IPv4', family: 4, host: server4, port: 80, expect: 'plain-v4' },
    { name: 'the tcp policy over IPv6', family: 6, host: server6, port: 80, expect: 'plain-v6' },
    { name: 'bypass reaches the real destination', family: 4, host: server4, port: 443, expect: 'real' },
    { name: 'bypass over IPv6', family: 6, host: server6, port: 443, expect: 'real' },
    { name: 'reject refuses the connection', family: 4, host: blocked, port: 443, expect: 'refused' },
    { name: 'first match wins: storage before the reject of the same host', family: 4, host: blocked, port: 6379, expect: 'storage-v4' },
    { name: 'uid 0 matches its policy', family: 4, host: server4, port: 9000, expect: 'mine-v4' },
    { name: 'another uid does not', family: 4, host: server4, port: 9000, uid: OTHER_UID, expect: 'real' },
    { name: 'uid 4242 matches its own policy', family: 4, host: server4, port: 9001, uid: OTHER_UID, expect: 'other-v4' },
    { name: 'uid 0 does not match the uid 4242 policy', family: 4, host: server4, port: 9001, expect: 'real' },
    { name: 'a socket with braid\'s mark is never captured', family: 4, host: server4, port: 6379, mark: true, expect: 'real' },
    { name: 'a local destination is never captured', family: 4, host: local4, port: 6379, expect: 'local' },
  ];

  /** What decide() says the case should see; marks and local destinations come before policies. */
  function modelled(c: Case): string {
    const direct = c.host === local4 || c.host === local6 ? 'local' : 'real';
    if (c.mark === true || direct === 'local') return direct;
    const d = decide(policies, { family: c.family, destination: c.host, port: c.port, source: c.family === 4 ? local4 : local6, uid: c.uid ?? 0 });
    if (d === null || d.action === 'bypass') return direct;
    if (d.action === 'reject') return 'refused';
    return `${d.policy}-v${c.family}`;
  }

  /** Runs `socat` as the application in `node` and says which server answered, or "refused". */
  async function connect(node: number, c: Omit<Case, 'name' | 'expect'>): Promise<string> {
    const host = c.family === 6 ? `[${c.host}]` : c.host;
    // SOL_SOCKET=1, SO_MARK=36. socat 1.7.4 applies setsockopt-int after connect(), too late for
    // the SYN; the -listen variant is applied before bind/connect on client sockets as well.
    const mark = c.mark === true ? `,setsockopt-listen=1:36:i${BYPASS_MARK}` : '';
    const socat = ['socat', '-u', `TCP${c.family}:${host}:${c.port},connect-timeout=3${mark}`, 'STDOUT'];
    const argv = c.uid === undefined ? socat : ['setpriv', `--reuid=${c.uid}`, `--regid=${c.uid}`, '--clear-groups', ...socat];
    const r = await bed.exec(node, argv);
    if (r.code === 0) return r.stdout.trim();
    if (r.stderr.includes('Connection refused')) return 'refused';
    throw new Error(`${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  }

  /** Starts named-servers in `node` and returns the ports they bound. */
  async function servers(node: number, specs: string[]): Promise<Record<string, number>> {
    const child = bed.spawn(node, [process.execPath, path.join(FIXTURES, 'named-servers.js'), ...specs]);
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as Record<string, number>);
      });
      child.once('exit', (code) => reject(new Error(`named-servers exited ${code}: ${err}`)));
    });
  }

  const nft = (...args: string[]) => bed.exec(0, ['nft', ...args]);
  const tablesNamed = async (): Promise<number> => {
    const r = await nft('-j', 'list', 'tables');
    const items = (JSON.parse(r.stdout) as { nftables: { table?: { family: string; name: string } }[] }).nftables;
    return items.filter((i) => i.table?.family === 'inet' && i.table.name === TABLE).length;
  };

  before(async () => {
    policies = [...parseConfigText(`listeners: [{name: out, mode: transparent}]\npolicies:${POLICIES}`, 'redirect.yaml').runtime.policies];
    bed = await Testbed.create({ nodes: 2, paths: 1 });
    const add = await bed.exec(1, ['ip', 'addr', 'add', `${blocked}/24`, 'dev', bed.iface(0)]);
    assert.equal(add.code, 0, add.stderr);

    const redirected = policies.filter((p) => p.action === 'mptcp' || p.action === 'tcp').map((p) => p.name);
    const listeners = await servers(0, [
      ...redirected.flatMap((name) => [`${name}-v4=127.0.0.1:0`, `${name}-v6=[::1]:0`]),
      'inbound-v4=0.0.0.0:0',
      'inbound-v6=[::]:0',
      `local=${local4}:6379`,
    ]);
    await servers(1, REAL_PORTS.flatMap((p) => [`real=[::]:${p}`, `real=0.0.0.0:${p}`]));

    const outboundPorts = new Map<string, ListenerPorts>(redirected.map((name) => [name, { v4: listeners[`${name}-v4`]!, v6: listeners[`${name}-v6`]! }]));
    ruleset = compileRuleset({
      policies,
      outboundPorts,
      inbound: [{ port: INBOUND_PORT, v4: listeners['inbound-v4']!, v6: listeners['inbound-v6']! }],
      mark: BYPASS_MARK,
      rejectMark: REJECT_MARK,
      table: TABLE,
    });
    table = new RedirectTable({ nft: ['ip', 'netns', 'exec', bed.nodeName(0), 'nft'] });
  });

  after(async () => {
    await bed?.destroy();
  });

  it('has no table before install', async () => {
    assert.equal(await table.exists(), false);
    assert.deepEqual(await table.status(), { table: 'inet braid', installed: false, rules: [] });
  });

  it('installs the table', async () => {
    await table.install(ruleset);
    assert.equal(await table.exists(), true);
  });

  for (const c of cases) {
    it(c.name, async () => {
      assert.equal(modelled(c), c.expect, 'decide() disagrees with the expectation');
      assert.equal(await connect(0, c), c.expect);
    });
  }

  it('takes transparent-inbound ports to their listener, per family', async () => {
    assert.equal(await connect(1, { family: 4, host: local4, port: INBOUND_PORT }), 'inbound-v4');
    assert.equal(await connect(1, { family: 6, host: local6, port: INBOUND_PORT }), 'inbound-v6');
  });

  it('counts each captured connection on its policy\'s rules', async () => {
    const status = await table.status();
    const packets = (policy: string, family?: string): number =>
      status.rules.filter((r) => r.policy === policy && (family === undefined || r.family === family)).reduce((n, r) => n + r.packets, 0);
    // nat chains see the first packet of each connection only, so packets = connections.
    const expected = new Map<string, number>();
    for (const c of cases) {
      if (c.mark === true || c.expect === 'local') continue;
      const d = decide(policies, { family: c.family, destination: c.host, port: c.port, source: c.family === 4 ? local4 : local6, uid: c.uid ?? 0 });
      if (d !== null) expected.set(d.policy, (expected.get(d.policy) ?? 0) + 1);
    }
    for (const p of policies) assert.equal(packets(p.name), expected.get(p.name) ?? 0, `policy ${p.name}: ${JSON.stringify(status.rules.filter((r) => r.policy === p.name))}`);
    assert.equal(packets('storage', 'ipv6'), 1);
    assert.equal(packets('@self'), 1);
    assert.equal(packets('@local'), 1);
    assert.equal(packets('@reject'), 1);
    assert.equal(packets('@inbound', 'ipv4'), 1);
    assert.equal(packets('@inbound', 'ipv6'), 1);
    assert.ok(status.rules.every((r) => r.policy !== '' && r.rule !== ''), JSON.stringify(status.rules));
    assert.deepEqual([...new Set(status.rules.map((r) => r.hook))], ['output', 'prerouting']);
  });

  it('braid redirect status prints the rules and their counters', async () => {
    const r = await bed.exec(0, [process.execPath, CLI, 'redirect', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^POLICY +HOOK +FAMILY +PACKETS +BYTES +RULE$/m);
    assert.match(r.stdout, /^storage +output +ipv4 +3 .*redirect to :\d+$/m);
    assert.match(r.stdout, /^blocked +output +ipv4 +1 .*meta mark set 0x00006273 accept$/m);
    const json = await bed.exec(0, [process.execPath, CLI, 'redirect', 'status', '--output', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { installed: boolean; rules: { policy: string }[] };
    assert.equal(doc.installed, true);
    assert.ok(doc.rules.some((x) => x.policy === 'other'));
  });

  it('installing again replaces the table: one table, counters from zero', async () => {
    await table.install(ruleset);
    assert.equal(await tablesNamed(), 1);
    const status = await table.status();
    assert.ok(status.rules.length > 0);
    assert.deepEqual(status.rules.filter((r) => r.packets !== 0), []);
  });

  it('replaces a stale table of a crashed braid', async () => {
    await table.remove();
    const stale = await bed.exec(0, ['nft', '-f', '-'], {
      input: `table inet ${TABLE} {\n\tchain stale {\n\t\ttype filter hook output priority 0; policy accept;\n\t\ttcp dport 443 counter reject with tcp reset\n\t}\n}\n`,
    });
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(await connect(0, { family: 4, host: server4, port: 443 }), 'refused', 'the stale table is in force');
    await table.install(ruleset);
    const listing = await nft('list', 'table', 'inet', TABLE);
    assert.ok(!listing.stdout.includes('stale'), listing.stdout);
    assert.equal(await tablesNamed(), 1);
    assert.equal(await connect(0, { family: 4, host: server4, port: 443 }), 'real');
    assert.equal(await connect(0, { family: 4, host: server4, port: 6379 }), 'storage-v4');
  });

  it('a failing install quotes nft and leaves the installed table as it was', async () => {
    const before = (await table.status()).rules.map((r) => r.rule);
    const broken = compileRuleset({
      policies: [...parseConfigText('listeners: [{name: out, mode: transparent}]\npolicies: [{name: app, match: {cgroup: [braid-test-missing/x]}, action: bypass}]\n', 'x.yaml').runtime.policies],
      outboundPorts: new Map(),
      inbound: [],
      mark: BYPASS_MARK,
      rejectMark: REJECT_MARK,
      table: TABLE,
    });
    await assert.rejects(table.install(broken), (err: unknown) => {
      assert.ok(isBraidError(err) && err.code === 'BRAID_REDIRECT', String(err));
      assert.match(err.message, /install table inet braid failed: .*cgroupv2 path fails/s);
      return true;
    });
    assert.deepEqual((await table.status()).rules.map((r) => r.rule), before);
  });

  it('remove() leaves no table, and removing again is fine', async () => {
    await table.remove();
    assert.equal(await table.exists(), false);
    assert.equal(await tablesNamed(), 0);
    await table.remove();
    assert.equal(await connect(0, { family: 4, host: server4, port: 6379 }), 'real');
    const r = await bed.exec(0, [process.execPath, CLI, 'redirect', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no braid table installed (table inet braid)\n');
  });

  it('reports nft failures as BRAID_REDIRECT', async () => {
    const missing = new RedirectTable({ nft: ['/nonexistent/nft'] });
    await assert.rejects(missing.exists(), (err: unknown) => isBraidError(err) && err.code === 'BRAID_REDIRECT' && /not found/.test(err.message));
  });
});
