// Legacy applications that know nothing of braid, talking to servers by their real addresses:
// curl, redis-benchmark and iperf3 in the client node; a web server, redis and iperf3 in the
// server node. MPTCP is judged from the server node's kernel counters and interface counters.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BraidNode, CLI, pathsFor } from '../../src/demo/braid-node';
import { Testbed, waitForPort } from '../../src/testbed';

const WEB = 8080;
const REDIS = 6379;
const IPERF = 5201;
const SERVER = '198.18.1.2';

interface Servers {
  dir: string;
  blobHash: string;
}

/** Web server (python3 http.server over a random 8 MiB file), redis and iperf3 on node 1. */
async function startServers(bed: Testbed, ports: number[] = [WEB]): Promise<Servers> {
  const dir = mkdtempSync(path.join(tmpdir(), 'braid-web-'));
  const blob = randomBytes(8 << 20);
  writeFileSync(path.join(dir, 'blob'), blob);
  for (const port of ports) {
    bed.spawn(1, ['python3', '-m', 'http.server', String(port), '--bind', '0.0.0.0', '--directory', dir], { stdio: 'ignore' });
  }
  bed.spawn(1, ['redis-server', '--port', String(REDIS), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  bed.spawn(1, ['iperf3', '-s', '-p', String(IPERF)], { stdio: 'ignore' });
  for (const port of [...ports, REDIS, IPERF]) await waitForPort(bed, 1, port);
  return { dir, blobHash: createHash('sha256').update(blob).digest('hex') };
}

async function curlHash(bed: Testbed, url: string, argv: string[] = []): Promise<{ code: number | null; hash: string; stderr: string }> {
  const r = await bed.exec(0, [...argv, 'sh', '-c', `curl -sS --max-time 20 ${url} | sha256sum`], { timeoutMs: 30_000 });
  const status = await bed.exec(0, [...argv, 'curl', '-sS', '-o', '/dev/null', '--max-time', '20', url], { timeoutMs: 30_000 });
  return { code: status.code, hash: r.stdout.split(' ')[0] ?? '', stderr: status.stderr };
}

async function mib(bed: Testbed, node: number, name: string): Promise<number> {
  const r = await bed.exec(node, ['nstat', '-az', name]);
  const m = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** The close log lines so far, once `until` holds for them (or 5 s passed: logs are asynchronous). */
async function closeLines(node: BraidNode, until: (lines: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = readFileSync(node.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"connection closed"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    if (until(lines) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function braidTables(bed: Testbed, node: number): Promise<string> {
  return (await bed.exec(node, ['nft', 'list', 'tables'])).stdout;
}

const clientConfig = (bed: Testbed, extraPolicies: Record<string, unknown>[] = []) => ({
  paths: pathsFor(bed, 2),
  listeners: [{ name: 'legacy', mode: 'transparent' }],
  policies: [
    ...extraPolicies,
    { name: 'lab', match: { destination: ['198.18.0.0/15', '2001:2::/48'] }, action: 'mptcp' },
    { name: 'default', action: 'bypass' },
  ],
  log: { level: 'info' },
});

const serverConfig = (bed: Testbed, ports: number[]) => ({
  paths: pathsFor(bed, 2),
  listeners: [{ name: 'apps', mode: 'transparent-inbound', ports }],
  log: { level: 'info' },
});

describe('transparent: braid on both nodes', () => {
  let bed: Testbed;
  let servers: Servers;
  let client: BraidNode;
  let server: BraidNode;
  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2, rate: '100mbit' });
    servers = await startServers(bed);
    server = new BraidNode(bed, 1, { config: serverConfig(bed, [WEB, REDIS, IPERF]) });
    client = new BraidNode(bed, 0, { config: clientConfig(bed) });
    await server.start();
    await client.start();
  });
  after(async () => {
    await client?.finish();
    await server?.finish();
    await bed?.destroy();
    rmSync(servers?.dir ?? '/nonexistent', { recursive: true, force: true });
  });

  it('curl fetches a file by the real address, intact, over MPTCP with a joined subflow', async () => {
    const joins = await mib(bed, 1, 'MPTcpExtMPJoinAckRx');
    const r = await curlHash(bed, `http://${SERVER}:${WEB}/blob`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.hash, servers.blobHash);
    assert.ok((await mib(bed, 1, 'MPTcpExtMPJoinAckRx')) > joins, 'the server kernel acknowledged an MP_JOIN');
    const closes = (await closeLines(client, (l) => l.some((c) => c.policy === 'lab'))).filter((c) => c.policy === 'lab');
    assert.ok(closes.length >= 1 && closes.every((c) => c.outcome === 'mptcp'), JSON.stringify(closes));
    const metrics = await client.get('/metrics');
    assert.match(metrics, /braid_policy_connections_total\{policy="lab",outcome="mptcp",reason="done"\} [1-9]/);
  });

  it('iperf3 by the real address uses both paths', async () => {
    const before0 = await bed.counters(0, 0);
    const before1 = await bed.counters(0, 1);
    const r = await bed.exec(0, ['iperf3', '-c', SERVER, '-p', String(IPERF), '-t', '3', '-J'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const d0 = (await bed.counters(0, 0)).txBytes - before0.txBytes;
    const d1 = (await bed.counters(0, 1)).txBytes - before1.txBytes;
    assert.ok(d0 / (d0 + d1) > 0.25 && d1 / (d0 + d1) > 0.25, `path shares ${d0} / ${d1}`);
  });

  it('redis-benchmark by the real address works, one upstream connection per client connection (no loop)', async () => {
    const accepted = (n: BraidNode) => n.get('/metrics').then((t) => Number(/^braid_accepted_total (\d+)/m.exec(t)?.[1] ?? 'NaN'));
    const [c0, s0] = [await accepted(client), await accepted(server)];
    const r = await bed.exec(0, ['redis-benchmark', '-h', SERVER, '-p', String(REDIS), '-t', 'set,get', '-n', '20000', '-c', '20', '-q'], {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SET: [\d.]+ requests per second/);
    const [c1, s1] = [await accepted(client), await accepted(server)];
    assert.ok(c1 - c0 >= 20, `client braid accepted ${c1 - c0}`);
    assert.equal(s1 - s0, c1 - c0, 'each captured connection became exactly one connection to the server');
  });

  it('applies a policy change live', async () => {
    const ping = () => bed.exec(0, ['redis-cli', '-h', SERVER, '-p', String(REDIS), 'ping']);
    assert.match((await ping()).stdout, /PONG/);
    client.updateConfig(clientConfig(bed, [{ name: 'no-redis', match: { ports: [REDIS] }, action: 'reject' }]));
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      await new Promise((r) => setTimeout(r, 100));
      refused = /refused/i.test((await ping()).stdout + (await ping()).stderr);
    }
    assert.ok(refused, 'the new reject policy took effect');
    client.updateConfig(clientConfig(bed));
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      await new Promise((r) => setTimeout(r, 100));
      back = /PONG/.test((await ping()).stdout);
    }
    assert.ok(back, 'and went away again');
  });

  it('shows the installed rules and their counters (braid redirect status)', async () => {
    const r = await bed.exec(0, [process.execPath, CLI, 'redirect', 'status', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { installed: boolean; rules: { policy: string; packets: number }[] };
    assert.equal(status.installed, true);
    assert.ok(status.rules.filter((x) => x.policy === 'lab').some((x) => x.packets > 0));
  });
});

describe('transparent: one side without braid', () => {
  it('a kernel-MPTCP client (no braid) gets multipath into braid on the server', async () => {
    // Shaped, so the transfer lasts long enough for the announced address to be joined.
    const bed = await Testbed.create({ nodes: 2, paths: 2, rate: '100mbit' });
    const server = new BraidNode(bed, 1, { config: serverConfig(bed, [WEB]) });
    try {
      const servers = await startServers(bed);
      await server.start();
      await bed.exec(0, ['ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
      const joins = await mib(bed, 1, 'MPTcpExtMPJoinAckRx');
      const r = await curlHash(bed, `http://${SERVER}:${WEB}/blob`, ['mptcpize', 'run']);
      assert.equal(r.hash, servers.blobHash);
      assert.ok((await mib(bed, 1, 'MPTcpExtMPJoinAckRx')) > joins, 'the client joined a second subflow through braid');
      assert.ok((await closeLines(server, (l) => l.length > 0)).some((c) => c.outcome === 'mptcp'));
      rmSync(servers.dir, { recursive: true, force: true });
    } finally {
      await server.finish();
      await bed.destroy();
    }
  });

  it('no braid on the server: plain TCP still works; bypass, reject and fallback: deny do what they say', async () => {
    const bed = await Testbed.create({ nodes: 2, paths: 2 });
    const client = new BraidNode(bed, 0, {
      config: clientConfig(bed, [
        { name: 'strict', match: { ports: [8081] }, action: 'mptcp', fallback: 'deny' },
        { name: 'blocked', match: { ports: [8082] }, action: 'reject' },
        { name: 'direct', match: { ports: [8083] }, action: 'bypass' },
      ]),
    });
    try {
      const servers = await startServers(bed, [WEB, 8081, 8082, 8083]);
      await client.start();
      const ok = await curlHash(bed, `http://${SERVER}:${WEB}/blob`);
      assert.equal(ok.hash, servers.blobHash, 'fallback to TCP');
      const strict = await curlHash(bed, `http://${SERVER}:8081/blob`);
      assert.notEqual(strict.code, 0, 'fallback: deny refuses a peer without MPTCP');
      // The reset can beat curl's check of its non-blocking connect: then it says so instead.
      assert.match(strict.stderr, /reset|Empty reply|Recv failure|Couldn't connect/i);
      const blocked = await curlHash(bed, `http://${SERVER}:8082/blob`);
      assert.equal(blocked.code, 7, `reject: connection refused (${blocked.stderr})`);
      const direct = await curlHash(bed, `http://${SERVER}:8083/blob`);
      assert.equal(direct.hash, servers.blobHash, 'bypass goes straight to the server');
      const closes = await closeLines(client, (l) => l.some((c) => c.policy === 'strict') && l.some((c) => c.policy === 'lab'));
      assert.ok(closes.some((c) => c.policy === 'lab' && c.outcome === 'fallback' && c.reason === 'done'));
      assert.ok(closes.some((c) => c.policy === 'strict' && c.reason === 'fallback-denied'));
      assert.equal(closes.filter((c) => c.policy === 'blocked' || c.policy === 'direct').length, 0, 'braid never saw them');
      rmSync(servers.dir, { recursive: true, force: true });
    } finally {
      await client.finish();
      await bed.destroy();
    }
  });
});

describe('transparent: what braid leaves behind', () => {
  it('removes its table on exit; a table left by kill -9 is replaced at the next start', async () => {
    const bed = await Testbed.create({ nodes: 2, paths: 2 });
    const client = new BraidNode(bed, 0, { config: clientConfig(bed) });
    try {
      await client.start();
      assert.match(await braidTables(bed, 0), /table inet braid/);
      assert.equal(await client.stop('SIGTERM'), 0);
      assert.doesNotMatch(await braidTables(bed, 0), /braid/);

      await client.start();
      await client.stop('SIGKILL');
      assert.match(await braidTables(bed, 0), /table inet braid/, 'a killed braid cannot clean up');
      await client.start();
      assert.equal((await braidTables(bed, 0)).match(/table inet braid/g)?.length, 1);
      assert.equal(await client.stop('SIGTERM'), 0);
      assert.doesNotMatch(await braidTables(bed, 0), /braid/);
    } finally {
      await client.finish();
      await bed.destroy();
    }
  });
});
