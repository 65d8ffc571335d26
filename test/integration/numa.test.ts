// NUMA-local subflow selection with the userspace path manager, on a described two-socket
// machine: path p0's NIC on node 0 (CPU 0), path p1's on node 1 (CPU 1), given to braid as a fake
// sysfs tree. The receiving application is pinned with taskset; where the payload arrives is
// read from the receiving node's interface counters, outside braid.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BraidNode, pathsFor } from '../../src/demo/braid-node';
import { Testbed, waitForPort, type Counters } from '../../src/testbed';
import { APP_PORT, FIXTURES, MiB, SERVER_PORT } from './pair';

const CLIENT_PORT = 7100;
const RATE = '100mbit';

/** A sysfs tree for a two-socket machine: node 0 = CPU 0 + NIC p0, node 1 = CPU 1 + NIC p1. */
function twoSocketSysfs(bed: Testbed): string {
  const root = mkdtempSync(path.join(tmpdir(), 'braid-sysfs-'));
  for (const node of [0, 1]) {
    mkdirSync(path.join(root, `devices/system/node/node${node}`), { recursive: true });
    writeFileSync(path.join(root, `devices/system/node/node${node}/cpulist`), `${node}\n`);
    mkdirSync(path.join(root, 'class/net', bed.iface(node), 'device'), { recursive: true });
    writeFileSync(path.join(root, 'class/net', bed.iface(node), 'device/numa_node'), `${node}\n`);
  }
  return root;
}

function serverConfig(bed: Testbed, sysfs: string): Record<string, unknown> {
  return {
    paths: pathsFor(bed, 2),
    mptcp: { pathManager: 'userspace' },
    topology: { sysfsRoot: sysfs, reevaluate: '200ms' },
    listeners: [{ name: 'in', mode: 'inbound', listen: `0.0.0.0:${SERVER_PORT}`, target: `127.0.0.1:${APP_PORT}`, scheduler: 'numa-local' }],
    log: { level: 'info' },
  };
}

/** Bytes received on each path by node `node` between two samples. */
async function sample(bed: Testbed, node: number): Promise<Counters[]> {
  return [await bed.counters(node, 0), await bed.counters(node, 1)];
}
function received(from: Counters[], to: Counters[]): [number, number] {
  return [to[0]!.rxBytes - from[0]!.rxBytes, to[1]!.rxBytes - from[1]!.rxBytes];
}
function share(bytes: [number, number], path: 0 | 1): number {
  return bytes[path] / (bytes[0] + bytes[1]);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pins every thread of a process (and its future threads) to one CPU. */
function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

async function hashUpload(bed: Testbed, argv: string[], bytes: number): Promise<{ ok: boolean; raw: string }> {
  const exec = await bed.exec(0, [...argv, '1', String(bytes), '0'], { timeoutMs: 90_000 });
  const line = exec.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ok: (JSON.parse(line) as { ok: boolean }).ok, raw: line };
  } catch {
    return { ok: false, raw: `exit ${exec.code}: ${exec.stderr}` };
  }
}

describe('numa-local steering, braid on both nodes', () => {
  let bed: Testbed;
  let sysfs: string;
  let server: BraidNode;
  let client: BraidNode;
  let appPid: number;

  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2, rate: RATE });
    sysfs = twoSocketSysfs(bed);
    const app = bed.spawn(1, ['taskset', '-c', '1', process.execPath, path.join(FIXTURES, 'hash-server.js'), '127.0.0.1', String(APP_PORT)]);
    appPid = app.pid!;
    await waitForPort(bed, 1, APP_PORT);
    server = new BraidNode(bed, 1, { config: serverConfig(bed, sysfs) });
    await server.start();
    client = new BraidNode(bed, 0, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [{ name: 'out', mode: 'forward', listen: `127.0.0.1:${CLIENT_PORT}`, upstream: `${bed.address(1, 0)}:${SERVER_PORT}` }],
      },
    });
    await client.start();
  });

  after(async () => {
    const codes = [await client?.stop(), await server?.stop()];
    await bed?.destroy();
    rmSync(sysfs, { recursive: true, force: true });
    for (const [i, n] of [client, server].entries()) {
      if (n === undefined) continue;
      if (codes[i] === 0) n.removeFiles();
      else process.stderr.write(`braid on node ${n.node} exited ${codes[i]}:\n${n.logTail()}\n`);
    }
  });

  it('receives on the NIC of the application node, follows a re-pin, survives the local path failing', async () => {
    const clientArgv = [process.execPath, path.join(FIXTURES, 'hash-client.js'), '127.0.0.1', String(CLIENT_PORT)];
    // One path carries ~12 MB/s: 160 MiB keeps the transfer going through all three phases.
    const transfer = hashUpload(bed, clientArgv, 160 * MiB);

    await sleep(1500); // handshake, join, first steering pass
    const t0 = await sample(bed, 1);
    await sleep(2000);
    const t1 = await sample(bed, 1);
    const pinnedToCpu1 = received(t0, t1);

    pin(appPid, 0); // the application moves to node 0
    await sleep(1500);
    const t2 = await sample(bed, 1);
    await sleep(2000);
    const t3 = await sample(bed, 1);
    const pinnedToCpu0 = received(t2, t3);
    const afterRepin = await server.get('/paths'); // explains a failure below

    await bed.setLink(1, 0, false); // node 0's NIC, now the local one, fails
    const result = await transfer;

    assert.ok(pinnedToCpu1[0] + pinnedToCpu1[1] > 5 * MiB, `the transfer was running: ${pinnedToCpu1}`);
    assert.ok(share(pinnedToCpu1, 1) >= 0.9, `pinned to CPU 1: ${(share(pinnedToCpu1, 1) * 100).toFixed(1)}% on p1 (${pinnedToCpu1})`);
    assert.ok(share(pinnedToCpu0, 0) >= 0.9, `re-pinned to CPU 0: ${(share(pinnedToCpu0, 0) * 100).toFixed(1)}% on p0 (${pinnedToCpu0}); /paths then: ${afterRepin}`);
    assert.ok(result.ok, `transfer intact after the local path failed: ${result.raw}`);

    const metrics = await server.get('/metrics');
    const bytes = (path: string, local: boolean): number =>
      Number(new RegExp(`^braid_numa_received_bytes_total\\{path="${path}",numa_local="${local}"\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    // Local on nic1 while pinned to CPU 1, local on nic0 after the re-pin, remote on nic1 after nic0 failed.
    assert.ok(bytes('nic1', true) > 5 * MiB && bytes('nic0', true) > 5 * MiB && bytes('nic1', false) > 5 * MiB, metrics.split('\n').filter((l) => l.startsWith('braid_numa')).join('\n'));
    const ratio = Number(/^braid_numa_local_received_ratio (\S+)$/m.exec(metrics)?.[1] ?? 'NaN');
    assert.ok(ratio > 0 && ratio < 1, `braid_numa_local_received_ratio ${ratio}`);
    assert.match(metrics, /^braid_mp_prio_changes_total [1-9]/m);
    // Workers are pinned one per described node; following the application moves its relay work.
    assert.match(metrics, /^braid_connection_migrations_total [1-9]/m);
    const paths = JSON.parse(await server.get('/paths')) as { pathManager: string; paths: { name: string; node: number | null }[] };
    assert.equal(paths.pathManager, 'userspace');
    assert.deepEqual(paths.paths.map((p) => [p.name, p.node]), [['nic0', 0], ['nic1', 1]], 'NIC nodes read from the described sysfs');
    await bed.setLink(1, 0, true);
  });
});

describe('numa-local steering of a plain kernel-MPTCP sender (no braid on it)', () => {
  let bed: Testbed;
  let sysfs: string;
  let server: BraidNode;

  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2, rate: RATE });
    sysfs = twoSocketSysfs(bed);
    bed.spawn(1, ['taskset', '-c', '1', process.execPath, path.join(FIXTURES, 'hash-server.js'), '127.0.0.1', String(APP_PORT)]);
    await waitForPort(bed, 1, APP_PORT);
    server = new BraidNode(bed, 1, { config: serverConfig(bed, sysfs) });
    await server.start();
    // The sender's kernel path manager joins the addresses braid announces.
    const limits = await bed.exec(0, ['ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    assert.equal(limits.code, 0, limits.stderr);
  });

  after(async () => {
    const code = await server?.stop();
    await bed?.destroy();
    rmSync(sysfs, { recursive: true, force: true });
    if (code === 0) server.removeFiles();
    else if (server) process.stderr.write(`braid exited ${code}:\n${server.logTail()}\n`);
  });

  it('puts at least 90% of the payload on the NIC local to the receiver', async () => {
    const argv = ['mptcpize', 'run', process.execPath, path.join(FIXTURES, 'hash-client.js'), bed.address(1, 0), String(SERVER_PORT)];
    const before = await sample(bed, 1);
    const result = await hashUpload(bed, argv, 48 * MiB);
    const after = await sample(bed, 1);
    const bytes = received(before, after);
    assert.ok(result.ok, result.raw);
    assert.ok(share(bytes, 1) >= 0.9, `${(share(bytes, 1) * 100).toFixed(1)}% on p1, the NIC of the application's node (${bytes})`);
  });
});

describe('userspace path manager: a lost path gets its subflow back', () => {
  let bed: Testbed;
  let server: BraidNode;
  let client: BraidNode;

  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2, rate: RATE });
    bed.spawn(1, [process.execPath, path.join(FIXTURES, 'hash-server.js'), '127.0.0.1', String(APP_PORT)]);
    await waitForPort(bed, 1, APP_PORT);
    server = new BraidNode(bed, 1, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [{ name: 'in', mode: 'inbound', listen: `0.0.0.0:${SERVER_PORT}`, target: `127.0.0.1:${APP_PORT}` }],
      },
    });
    await server.start();
    client = new BraidNode(bed, 0, {
      config: {
        paths: pathsFor(bed, 2),
        mptcp: { pathManager: 'userspace' },
        listeners: [{ name: 'out', mode: 'forward', listen: `127.0.0.1:${CLIENT_PORT}`, upstream: `${bed.address(1, 0)}:${SERVER_PORT}` }],
      },
    });
    await client.start();
  });

  after(async () => {
    const codes = [await client?.stop(), await server?.stop()];
    await bed?.destroy();
    for (const [i, n] of [client, server].entries()) {
      if (n === undefined) continue;
      if (codes[i] === 0) n.removeFiles();
      else process.stderr.write(`braid on node ${n.node} exited ${codes[i]}:\n${n.logTail()}\n`);
    }
  });

  /** Established TCP sockets on the server's MPTCP port whose peer is the client's p1 address, per ss. */
  async function subflowsFromP1(): Promise<string[]> {
    const r = await bed.exec(1, ['ss', '-tnH', 'state', 'established', `( sport = :${SERVER_PORT} )`]);
    const p1 = bed.address(0, 1);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop() ?? '')
      .filter((peer) => peer.replace(/^\[::ffff:/, '').replace(/\]/, '').startsWith(`${p1}:`));
  }

  it('re-creates the subflow within seconds of the link coming back', async () => {
    const argv = [process.execPath, path.join(FIXTURES, 'hash-client.js'), '127.0.0.1', String(CLIENT_PORT)];
    const transfer = hashUpload(bed, argv, 200 * MiB);
    let before: string[] = [];
    for (let i = 0; i < 50 && before.length === 0; i++) {
      await sleep(100);
      before = await subflowsFromP1();
    }
    assert.ok(before.length > 0, 'a subflow on p1 before the failure');

    await bed.setLink(0, 1, false);
    await sleep(1500);
    await bed.setLink(0, 1, true);
    const upAt = Date.now();
    let fresh: string[] = [];
    while (Date.now() - upAt < 5000) {
      fresh = (await subflowsFromP1()).filter((peer) => !before.includes(peer));
      if (fresh.length > 0) break;
      await sleep(100);
    }
    const after = Date.now() - upAt;
    assert.ok(fresh.length > 0, `no new subflow from p1 within 5 s of the link coming back (had ${before.join(', ')})`);
    const result = await transfer;
    assert.ok(result.ok, result.raw);
    const metrics = await client.get('/metrics');
    assert.match(metrics, /^braid_subflows_recreated_total [1-9]/m, `re-creation counted (took ${after} ms)`);
  });
});

describe('backup-ordered: the first path of the list carries the data, the next takes over', () => {
  let bed: Testbed;
  let server: BraidNode;

  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2, rate: RATE });
    bed.spawn(1, [process.execPath, path.join(FIXTURES, 'hash-server.js'), '127.0.0.1', String(APP_PORT)]);
    await waitForPort(bed, 1, APP_PORT);
    server = new BraidNode(bed, 1, {
      config: {
        paths: pathsFor(bed, 2),
        mptcp: { pathManager: 'userspace' },
        listeners: [
          { name: 'in', mode: 'inbound', listen: `0.0.0.0:${SERVER_PORT}`, target: `127.0.0.1:${APP_PORT}`, scheduler: 'backup-ordered', paths: ['nic1', 'nic0'] },
        ],
      },
    });
    await server.start();
    const limits = await bed.exec(0, ['ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
    assert.equal(limits.code, 0, limits.stderr);
  });

  after(async () => {
    const code = await server?.stop();
    await bed?.destroy();
    if (code === 0) server.removeFiles();
    else if (server) process.stderr.write(`braid exited ${code}:\n${server.logTail()}\n`);
  });

  it('sends on nic1 first, then on nic0 when nic1 fails, with the transfer intact', async () => {
    const argv = ['mptcpize', 'run', process.execPath, path.join(FIXTURES, 'hash-client.js'), bed.address(1, 0), String(SERVER_PORT)];
    const transfer = hashUpload(bed, argv, 64 * MiB);
    await sleep(1500);
    const t0 = await sample(bed, 1);
    await sleep(1500);
    const t1 = await sample(bed, 1);
    await bed.setLink(1, 1, false);
    await sleep(1000);
    const t2 = await sample(bed, 1);
    await sleep(1500);
    const t3 = await sample(bed, 1);
    const result = await transfer;
    const first = received(t0, t1);
    const failedOver = received(t2, t3);
    assert.ok(share(first, 1) >= 0.9, `primary nic1: ${(share(first, 1) * 100).toFixed(1)}% (${first})`);
    assert.ok(failedOver[0] > 5 * MiB, `nic0 took over: ${failedOver}`);
    assert.ok(result.ok, result.raw);
    await bed.setLink(1, 1, true);
  });
});
