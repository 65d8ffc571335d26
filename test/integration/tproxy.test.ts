// Routed capture against the kernel: a "pod" namespace routed through node 0, which holds braid's
// table with the prerouting TPROXY chain; node 1 holds the real destinations. socat listeners
// with IP_TRANSPARENT stand in for braid's TPROXY listeners and answer with their name and the
// address the connection was made to (what braid reads as the original destination). The policy
// routing that delivers marked packets locally is set up by hand here. Each case's outcome is
// checked against a hand-written expectation and against decide() for a connection without a
// socket owner, which is what routed traffic is.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText, type RuntimePolicy } from '../../src/config';
import { BYPASS_MARK, REJECT_MARK, ROUTING_TABLE, TABLE, TPROXY_MARK, compileRuleset, decide, type ListenerPorts } from '../../src/policy';
import { RedirectTable } from '../../src/redirect';
import { Testbed, extraNsName, waitForPort } from '../../src/testbed';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';

const FIXTURES = path.resolve(__dirname, '../fixtures');
const CLI = path.resolve(__dirname, '../../src/cli.js');

const POLICIES = `
  - name: storage
    match: {destination: [198.18.1.0/24, "2001:2:0:1::/64"], ports: [6379]}
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
  - name: web
    match: {ports: [443, 9000]}
    action: bypass
  - name: rest
    action: tcp
`;
const REAL_PORTS = [6379, 80, 443, 9000];
/** An echo server on node 1 for a connection that outlives the table's install. */
const ECHO_PORT = 7000;
/** TPROXY listener ports in node 0: fixed, the namespace is fresh. */
const TPROXY_BASE = 15001;

const POD = { v4: '198.19.0.2', v6: '2001:2:0:100::2' } as const;
const GATEWAY = { v4: '198.19.0.1', v6: '2001:2:0:100::1' } as const;

interface Case {
  name: string;
  family: 4 | 6;
  host: string;
  port: number;
  /** Which server answered ("real", "local", "<policy>-v4" for a TPROXY listener, ...) or "refused". */
  expect: string;
}

interface Outcome {
  /** Who answered, or "refused". */
  who: string;
  /** The local address of the accepted socket, as a TPROXY listener reports it. */
  at?: string;
}

function run(argv: readonly string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown }) | null;
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, stdout, stderr });
    });
  });
}

async function must(argv: readonly string[]): Promise<void> {
  const r = await run(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
}

describe('routed capture (prerouting TPROXY) in network namespaces', () => {
  let bed: Testbed;
  let pod: string;
  let node0: string;
  let table: RedirectTable;
  let policies: RuntimePolicy[];
  let ruleset: string;
  const server4 = '198.18.1.2';
  const server6 = '2001:2:0:1::2';
  const blocked = '198.18.1.10';
  const node0v4 = '198.18.1.1';

  const cases: Case[] = [
    { name: 'a storage connection over IPv4 lands on the storage TPROXY listener', family: 4, host: server4, port: 6379, expect: 'storage-v4' },
    { name: 'storage over IPv6 lands on the IPv6 one', family: 6, host: server6, port: 6379, expect: 'storage-v6' },
    { name: 'the tcp policy over IPv4', family: 4, host: server4, port: 80, expect: 'plain-v4' },
    { name: 'the tcp policy over IPv6', family: 6, host: server6, port: 80, expect: 'plain-v6' },
    { name: 'bypass reaches the real server through node 0', family: 4, host: server4, port: 443, expect: 'real' },
    { name: 'bypass over IPv6', family: 6, host: server6, port: 443, expect: 'real' },
    { name: 'reject refuses the connection', family: 4, host: blocked, port: 443, expect: 'refused' },
    { name: 'first match wins: storage before the reject of the same host', family: 4, host: blocked, port: 6379, expect: 'storage-v4' },
    { name: 'a uid policy does not capture routed traffic', family: 4, host: server4, port: 9000, expect: 'real' },
    { name: 'the catch-all takes the rest', family: 4, host: server4, port: 8080, expect: 'rest-v4' },
    { name: 'a connection to node 0 itself is not routed, so not captured', family: 4, host: node0v4, port: 6379, expect: 'local' },
  ];

  /** What decide() says a routed connection should see: no uid, no cgroup. */
  function modelled(c: Case): string {
    if (c.host === node0v4) return 'local';
    const d = decide(policies, { family: c.family, destination: c.host, port: c.port, source: c.family === 4 ? POD.v4 : POD.v6 });
    if (d === null || d.action === 'bypass') return 'real';
    if (d.action === 'reject') return 'refused';
    return `${d.policy}-v${c.family}`;
  }

  /** socat as the application; argv runs it in a namespace. */
  async function connect(prefix: readonly string[], c: { family: 4 | 6; host: string; port: number }): Promise<Outcome> {
    const host = c.family === 6 ? `[${c.host}]` : c.host;
    const argv = [...prefix, 'socat', '-u', `TCP${c.family}:${host}:${c.port},connect-timeout=3`, 'STDOUT'];
    const r = await run(argv);
    if (r.code === 0) {
      const [who = '', address, port] = r.stdout.trim().split(' ');
      // URL writes an IPv6 address the short way; socat writes all eight groups.
      return address === undefined ? { who } : { who, at: new URL(`tcp://${address}:${port}`).host };
    }
    if (r.stderr.includes('Connection refused')) return { who: 'refused' };
    throw new Error(`${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  }
  const fromPod = (c: { family: 4 | 6; host: string; port: number }) => connect(['ip', 'netns', 'exec', pod], c);
  const fromNode0 = (c: { family: 4 | 6; host: string; port: number }) => connect(['ip', 'netns', 'exec', node0], c);

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

  /** An IP_TRANSPARENT listener in node 0 that answers "NAME ADDRESS:PORT" (its accepted socket's local side). */
  async function tproxyListener(name: string, family: 4 | 6, port: number): Promise<void> {
    const listen = family === 4 ? `TCP4-LISTEN:${port},ip-transparent,fork,reuseaddr` : `TCP6-LISTEN:${port},ip-transparent,ipv6only=1,fork,reuseaddr`;
    bed.spawn(0, ['socat', listen, `SYSTEM:echo ${name} $SOCAT_SOCKADDR $SOCAT_SOCKPORT`], { stdio: 'ignore' });
    await waitForPort(bed, 0, port);
  }

  before(async () => {
    policies = [...parseConfigText(`listeners: [{name: out, mode: transparent, capture: [local, routed]}]\npolicies:${POLICIES}`, 'tproxy.yaml').runtime.policies];
    bed = await Testbed.create({ nodes: 2, paths: 1 });
    node0 = bed.nodeName(0);
    await must(['ip', '-n', bed.nodeName(1), 'addr', 'add', `${blocked}/24`, 'dev', bed.iface(0)]);
    // Back to the pod's subnets through node 0, for the connections node 0 only forwards.
    await must(['ip', '-n', bed.nodeName(1), 'route', 'add', '198.19.0.0/24', 'via', bed.address(0, 0, 4)]);
    await must(['ip', '-n', bed.nodeName(1), '-6', 'route', 'add', '2001:2:0:100::/64', 'via', bed.address(0, 0, 6)]);

    // The pod: a veth to node 0, its default routes through node 0.
    pod = extraNsName(bed.prefix, 'pod');
    await must(['ip', 'netns', 'add', pod]);
    await must(['ip', 'link', 'add', 'eth0', 'netns', pod, 'type', 'veth', 'peer', 'name', 'pod0', 'netns', node0]);
    await must(['ip', 'netns', 'exec', pod, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    for (const [ns, dev, v4, v6] of [[pod, 'eth0', POD.v4, POD.v6], [node0, 'pod0', GATEWAY.v4, GATEWAY.v6]] as const) {
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      await must(['ip', '-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
      await must(['ip', '-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
    }
    await must(['ip', '-n', pod, 'route', 'add', 'default', 'via', GATEWAY.v4]);
    await must(['ip', '-n', pod, '-6', 'route', 'add', 'default', 'via', GATEWAY.v6]);
    await must(['ip', 'netns', 'exec', node0, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

    // What braid's own netlink code will do: marked packets are delivered locally.
    for (const [f, any] of [['-4', '0.0.0.0/0'], ['-6', '::/0']] as const) {
      await must(['ip', '-n', node0, f, 'rule', 'add', 'fwmark', String(TPROXY_MARK), 'lookup', String(ROUTING_TABLE)]);
      await must(['ip', '-n', node0, f, 'route', 'add', 'local', any, 'dev', 'lo', 'table', String(ROUTING_TABLE)]);
    }

    const redirected = policies.filter((p) => p.action === 'mptcp' || p.action === 'tcp').map((p) => p.name);
    const routedPorts = new Map<string, ListenerPorts>();
    let next = TPROXY_BASE;
    for (const name of redirected) {
      const ports = { v4: next++, v6: next++ };
      routedPorts.set(name, ports);
      await tproxyListener(`${name}-v4`, 4, ports.v4);
      await tproxyListener(`${name}-v6`, 6, ports.v6);
    }
    // Local capture in the same table: its listeners are plain loopback servers (REDIRECT).
    const local = await servers(0, [...redirected.flatMap((name) => [`${name}-local-v4=127.0.0.1:0`, `${name}-local-v6=[::1]:0`]), `local=${node0v4}:6379`]);
    await servers(1, REAL_PORTS.flatMap((p) => [`real=[::]:${p}`, `real=0.0.0.0:${p}`]));
    bed.spawn(1, ['socat', `TCP4-LISTEN:${ECHO_PORT},fork,reuseaddr`, 'EXEC:cat'], { stdio: 'ignore' });
    await waitForPort(bed, 1, ECHO_PORT);

    ruleset = compileRuleset({
      policies,
      outboundPorts: new Map(redirected.map((name) => [name, { v4: local[`${name}-local-v4`]!, v6: local[`${name}-local-v6`]! }])),
      inbound: [],
      routed: { ports: routedPorts, mark: TPROXY_MARK },
      mark: BYPASS_MARK,
      rejectMark: REJECT_MARK,
      table: TABLE,
    });
    table = new RedirectTable({ nft: ['ip', 'netns', 'exec', node0, 'nft'] });
  });

  /** A connection from the pod to the echo server, opened before the table exists. */
  let old: ChildProcess | undefined;
  let echoed = '';
  async function echo(line: string): Promise<void> {
    const want = echoed.length + line.length + 1;
    old!.stdin!.write(`${line}\n`);
    const deadline = Date.now() + 5000;
    while (echoed.length < want && Date.now() < deadline && old!.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    assert.equal(echoed.slice(want - line.length - 1), `${line}\n`, `echo of "${line}" (exit ${old!.exitCode})`);
  }

  after(async () => {
    old?.kill('SIGKILL');
    if (pod !== undefined) {
      await killNetnsProcesses([pod], 500);
      await deleteNetns([pod]);
    }
    await bed?.destroy();
  });

  it('without the table, the pod reaches the real servers through node 0', async () => {
    assert.deepEqual(await fromPod({ family: 4, host: server4, port: 6379 }), { who: 'real' });
    assert.deepEqual(await fromPod({ family: 6, host: server6, port: 6379 }), { who: 'real' });
  });

  it('a connection opened before the table exists carries data', async () => {
    old = spawn('ip', ['netns', 'exec', pod, 'socat', '-', `TCP4:${server4}:${ECHO_PORT}`], { stdio: ['pipe', 'pipe', 'ignore'] });
    old.stdout!.on('data', (b: Buffer) => (echoed += b.toString()));
    await echo('before');
  });

  it('installs the table with the routed chain', async () => {
    await table.install(ruleset);
    const status = await table.status();
    assert.ok(status.rules.some((r) => r.chain === 'routed' && r.hook === 'prerouting'), JSON.stringify(status.rules));
  });

  it('leaves a connection older than the table alone, though a policy now matches its port', async () => {
    assert.equal(modelled({ name: '', family: 4, host: server4, port: ECHO_PORT, expect: '' }), 'rest-v4');
    await echo('after');
    assert.equal((await fromPod({ family: 4, host: server4, port: ECHO_PORT })).who, 'rest-v4', 'a new connection to it is captured');
  });

  for (const c of cases) {
    it(c.name, async () => {
      assert.equal(modelled(c), c.expect, 'decide() disagrees with the expectation');
      const got = await fromPod(c);
      assert.equal(got.who, c.expect);
      // A TPROXY listener's socket carries the original destination as its own address.
      if (got.at !== undefined) assert.equal(got.at, `${c.family === 6 ? `[${c.host}]` : c.host}:${c.port}`);
    });
  }

  it('local capture still works beside it, uid policy included', async () => {
    assert.equal((await fromNode0({ family: 4, host: server4, port: 6379 })).who, 'storage-local-v4');
    assert.equal((await fromNode0({ family: 6, host: server6, port: 80 })).who, 'plain-local-v6');
    assert.equal((await fromNode0({ family: 4, host: server4, port: 9000 })).who, 'mine-local-v4');
  });

  it('counts each routed connection once on its policy\'s prerouting rules', async () => {
    const status = await table.status();
    const routed = status.rules.filter((r) => r.hook === 'prerouting');
    const packets = (policy: string, family?: string): number =>
      routed.filter((r) => r.policy === policy && (family === undefined || r.family === family)).reduce((n, r) => n + r.packets, 0);
    // Only SYNs reach the policy rules, so packets = connections (the pre-install checks ran without the table).
    const expected = new Map<string, number>();
    for (const c of cases) {
      if (c.expect === 'local') continue;
      const d = decide(policies, { family: c.family, destination: c.host, port: c.port, source: c.family === 4 ? POD.v4 : POD.v6 });
      if (d !== null) expected.set(d.policy, (expected.get(d.policy) ?? 0) + 1);
    }
    expected.set('rest', (expected.get('rest') ?? 0) + 1); // the new connection to the echo port
    for (const p of policies) assert.equal(packets(p.name), expected.get(p.name) ?? 0, `policy ${p.name}: ${JSON.stringify(routed.filter((r) => r.policy === p.name))}`);
    assert.equal(packets('storage', 'ipv6'), 1);
    assert.deepEqual(routed.filter((r) => r.policy === 'mine'), [], 'a uid policy has no prerouting rule');
    assert.ok(packets('@established') > 0, 'later packets of TPROXY connections match their socket');
    assert.ok(packets('@non-syn') > 0, 'later packets of bypassed connections skip the policies');
    assert.ok(packets('@local') > 0, 'the connection to node 0 itself');
    // The output chain counted node 0's own three connections, not the pod's; the reset of the
    // routed reject left through it as a reply and was let go.
    const output = status.rules.filter((r) => r.hook === 'output');
    const outPackets = (policy: string) => output.filter((r) => r.policy === policy).reduce((n, r) => n + r.packets, 0);
    assert.deepEqual([outPackets('storage'), outPackets('plain'), outPackets('mine'), outPackets('web'), outPackets('rest')], [1, 1, 1, 0, 0]);
    assert.equal(outPackets('@reply'), 1);
    assert.deepEqual([...new Set(status.rules.map((r) => r.hook))], ['output', 'prerouting']);
  });

  it('braid redirect status shows the prerouting rules and their counters', async () => {
    const r = await bed.exec(0, [process.execPath, CLI, 'redirect', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^storage +prerouting +ipv4 +2 .*tproxy ip to :15001 meta mark set 0x00006274 accept$/m);
    assert.match(r.stdout, /^storage +prerouting +ipv6 +1 .*tproxy ip6 to :15002 meta mark set 0x00006274 accept$/m);
    assert.match(r.stdout, /^blocked +prerouting +ipv4 +1 .*reject with tcp reset$/m);
    assert.match(r.stdout, /^@established +prerouting +any +\d+ .*socket transparent 1 meta mark set 0x00006274 accept$/m);
    assert.match(r.stdout, /^storage +output +ipv4 +1 .*redirect to :\d+$/m);
  });

  it('after remove(), the pod reaches the real servers again', async () => {
    await table.remove();
    assert.deepEqual(await fromPod({ family: 4, host: server4, port: 6379 }), { who: 'real' });
    assert.deepEqual(await fromPod({ family: 4, host: blocked, port: 443 }), { who: 'real' });
  });
});
