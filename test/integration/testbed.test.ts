// The network-namespace test bed itself: topology, kernel MPTCP across its paths, link
// control, and that it never leaves a namespace or a process behind.
// Reachability uses probeTcp (connect: handshake or RST = reached) since ping is not installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeTcp, sweepStale, Testbed, waitForPort } from '../../src/testbed';
import { isBraidError } from '../../src/errors';

const FIXTURE = join(__dirname, 'fixtures', 'testbed-child.js');

function namespacesWithPrefix(prefix: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    // no namespace was ever named
  }
  return names.filter((n) => n.startsWith(`${prefix}-`));
}

// Running (not a zombie). Orphans of a killed bed wait for pid 1 to reap them, which here
// takes up to ~2 s; a zombie has already ended, so it counts as gone.
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state letter follows the parenthesised command name, which may contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

// SIGKILL is asynchronous: give the kernel a bounded moment to finish the process.
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

async function assertReach(bed: Testbed, from: number, to: number, path: number, family: 4 | 6, expected: boolean) {
  const addr = bed.address(to, path, family);
  const r = await probeTcp(bed, from, addr);
  assert.equal(r.reached, expected, `node ${from} -> ${addr} (path ${path}, IPv${family}): ${r.outcome}`);
}

describe('testbed: 2 nodes x 2 paths', () => {
  let bed: Testbed;
  before(async () => {
    bed = await Testbed.create({ nodes: 2, paths: 2 });
  });
  after(async () => {
    await bed?.destroy();
  });

  test('each node reaches the other on both paths over IPv4 and IPv6', async () => {
    assert.match(bed.nodeName(0), /^bd[0-9a-z]+-n0$/);
    assert.equal(bed.iface(1), 'p1');
    for (const [from, to] of [[0, 1], [1, 0]] as const) {
      for (const path of [0, 1]) {
        for (const family of [4, 6] as const) await assertReach(bed, from, to, path, family, true);
      }
    }
  });

  test('a node has exactly its planned addresses and no default route', async () => {
    const addrs = await bed.exec(1, ['ip', '-j', 'addr', 'show', 'dev', 'p1']);
    const parsed = JSON.parse(addrs.stdout) as Array<{ addr_info: Array<{ local: string; scope: string }> }>;
    const global = parsed[0]?.addr_info.filter((a) => a.scope === 'global').map((a) => a.local).sort();
    assert.deepEqual(global, ['198.18.2.2', '2001:2:0:2::2']);
    const routes = await bed.exec(1, ['ip', 'route', 'show', 'default']);
    assert.equal(routes.stdout.trim(), '');
  });

  test('kernel MPTCP spreads one connection over both paths', async () => {
    const server = bed.nodeName(1);
    const ip = (...args: string[]) => bed.exec(0, ['ip', ...args]).then((r) => assert.equal(r.code, 0, r.stderr));
    await ip('-n', server, 'mptcp', 'endpoint', 'add', bed.address(1, 1), 'dev', bed.iface(1), 'signal');
    await ip('-n', server, 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    await ip('-n', bed.nodeName(0), 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    await bed.shape(0, '100mbit');
    await bed.shape(1, '100mbit');
    const qdiscs = await bed.exec(0, ['tc', 'qdisc', 'show', 'dev', 'p1']);
    assert.match(qdiscs.stdout, /tbf .*rate 100Mbit/);

    const iperfServer = bed.spawn(1, ['mptcpize', 'run', 'iperf3', '-s', '-1'], { stdio: 'ignore' });
    const serverDone = once(iperfServer, 'exit'); // `-1`: it ends after this one client
    await waitForPort(bed, 1, 5201);
    const before0 = await bed.counters(0, 0);
    const before1 = await bed.counters(0, 1);
    const client = await bed.exec(0, ['mptcpize', 'run', 'iperf3', '-c', bed.address(1, 0), '-t', '3', '-J'], {
      timeoutMs: 20_000,
    });
    assert.equal(client.code, 0, client.stderr || client.stdout);
    const tx0 = (await bed.counters(0, 0)).txBytes - before0.txBytes;
    const tx1 = (await bed.counters(0, 1)).txBytes - before1.txBytes;
    const total = tx0 + tx1;
    const report = JSON.parse(client.stdout) as { end: { sum_sent: { bits_per_second: number } } };
    console.log(
      `# kernel MPTCP over the bed: ${(report.end.sum_sent.bits_per_second / 1e6).toFixed(1)} Mbit/s; ` +
        `client tx p0 ${tx0} B, p1 ${tx1} B`,
    );
    assert.ok(total > 1_000_000, `too little traffic (${total} bytes) to judge the split`);
    assert.ok(tx0 > total * 0.25, `path 0 carried ${tx0} of ${total} bytes`);
    assert.ok(tx1 > total * 0.25, `path 1 carried ${tx1} of ${total} bytes`);
    await serverDone;

    await bed.unshape(0);
    await bed.unshape(1);
    const after = await bed.exec(0, ['tc', 'qdisc', 'show', 'dev', 'p1']);
    assert.doesNotMatch(after.stdout, /tbf/);
  });

  test('setLink(client, 0, down) cuts path 0 only; up restores it', async () => {
    await bed.setLink(0, 0, false);
    await assertReach(bed, 0, 1, 0, 4, false);
    await assertReach(bed, 0, 1, 1, 4, true);
    await assertReach(bed, 0, 1, 1, 6, true);
    await bed.setLink(0, 0, true);
    await assertReach(bed, 0, 1, 0, 4, true);
    await assertReach(bed, 0, 1, 0, 6, true);
  });

  test('setPath(1, down) cuts path 1 for every node', async () => {
    await bed.setPath(1, false);
    await assertReach(bed, 1, 0, 1, 4, false);
    await assertReach(bed, 1, 0, 0, 4, true);
    await bed.setPath(1, true);
    await assertReach(bed, 1, 0, 1, 4, true);
  });

  test('exec kills a program that outlives its timeout and says so', async () => {
    await assert.rejects(bed.exec(0, ['sleep', '30'], { timeoutMs: 200 }), (err: unknown) => {
      assert.ok(isBraidError(err) && err.code === 'BRAID_TESTBED');
      assert.match(err.message, /sleep 30.*timed out after 200 ms/);
      return true;
    });
  });

  test('out-of-range nodes and paths are refused with the bed named', () => {
    assert.throws(() => bed.address(2, 0), /node 2 is out of range 0\.\.1/);
    assert.throws(() => bed.iface(2), /path 2 is out of range 0\.\.1/);
  });
});

test('testbed: 3 nodes x 2 paths share one bridged segment per path', async () => {
  const bed = await Testbed.create({ nodes: 3, paths: 2, rate: '50mbit' });
  try {
    for (const path of [0, 1]) {
      for (const [from, to] of [[0, 1], [0, 2], [1, 2], [2, 0]] as const) await assertReach(bed, from, to, path, 4, true);
    }
    await assertReach(bed, 2, 1, 1, 6, true);
    const hubQdisc = await bed.exec(0, ['tc', '-n', `${bed.prefix}-hub`, 'qdisc', 'show', 'dev', 'n2p1']);
    assert.match(hubQdisc.stdout, /tbf .*rate 50Mbit/, 'the hub side of a path is shaped too');
    await bed.setLink(2, 1, false);
    await assertReach(bed, 0, 2, 1, 4, false);
    await assertReach(bed, 0, 1, 1, 4, true);
  } finally {
    await bed.destroy();
  }
});

describe('testbed cleanup', () => {
  test('destroy() kills tracked and untracked processes and removes every namespace; idempotent', async () => {
    const bed = await Testbed.create({ nodes: 3, paths: 1, killGraceMs: 500 });
    // `trap '' TERM` makes this one outlast SIGTERM: it must go by SIGKILL after the grace.
    const stubborn = bed.spawn(0, ['sh', '-c', "trap '' TERM; echo trapped; while :; do sleep 1; done"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(stubborn.stdout!, 'data'); // SIGTERM before the trap is set would end it early
    stubborn.stdout!.destroy();
    const shell = bed.spawn(1, ['sh', '-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [chunk] = (await once(shell.stdout!, 'data')) as [Buffer];
    const grandchild = Number(chunk.toString().trim());
    shell.stdout!.destroy(); // a surviving grandchild must fail this test, not hang the run
    assert.equal(namespacesWithPrefix(bed.prefix).length, 4);
    assert.ok(alive(grandchild));

    await bed.destroy();
    assert.deepEqual(namespacesWithPrefix(bed.prefix), []);
    assert.ok(stubborn.signalCode === 'SIGKILL', `stubborn child ended by ${stubborn.signalCode}`);
    assert.ok(shell.exitCode !== null || shell.signalCode !== null);
    assert.ok(await waitGone(grandchild), `grandchild ${grandchild} survived destroy()`);
    await bed.destroy();
    assert.throws(() => bed.spawn(0, ['true']), /is destroyed/);
  });

  async function runChild(mode: string, signal?: NodeJS.Signals) {
    const child = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const info = JSON.parse(line.toString().split('\n')[0] as string) as { namespaces: string[]; pids: number[] };
    assert.equal(info.namespaces.length, 2);
    assert.ok(info.pids.every(alive), 'the child started its processes');
    if (signal !== undefined) child.kill(signal);
    const [code, sig] = await exited;
    return { info, code, sig, stderr, prefix: (info.namespaces[0] as string).replace(/-n0$/, '') };
  }

  async function assertNothingLeft(info: { namespaces: string[]; pids: number[] }, prefix: string) {
    assert.deepEqual(namespacesWithPrefix(prefix), []);
    for (const pid of info.pids) assert.ok(await waitGone(pid), `pid ${pid} survived`);
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`a process that holds a bed and gets ${signal} leaves nothing behind and still dies by it`, async () => {
      const r = await runChild('wait', signal);
      assert.equal(r.sig, signal, r.stderr);
      await assertNothingLeft(r.info, r.prefix);
    });
  }

  test('an uncaught exception still tears the bed down (and the process still crashes)', async () => {
    const r = await runChild('throw');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /deliberate uncaught exception/);
    await assertNothingLeft(r.info, r.prefix);
  });

  test('process.exit() without destroy() tears the bed down', async () => {
    const r = await runChild('exit');
    assert.equal(r.code, 3, r.stderr);
    await assertNothingLeft(r.info, r.prefix);
  });

  test('after SIGKILL the bed survives, and sweepStale() removes it and what runs inside', async () => {
    const r = await runChild('wait', 'SIGKILL');
    assert.equal(r.sig, 'SIGKILL');
    assert.deepEqual(namespacesWithPrefix(r.prefix).sort(), [...r.info.namespaces].sort(), 'SIGKILL cannot be caught');
    const removed = await sweepStale();
    for (const ns of r.info.namespaces) assert.ok(removed.includes(ns), `${ns} not swept`);
    await assertNothingLeft(r.info, r.prefix);
  });

  test('sweepStale() leaves the beds of live processes alone', async () => {
    const bed = await Testbed.create({ nodes: 2, paths: 1 });
    try {
      const removed = await sweepStale();
      assert.ok(!removed.some((n) => n.startsWith(`${bed.prefix}-`)));
      assert.equal(namespacesWithPrefix(bed.prefix).length, 2);
    } finally {
      await bed.destroy();
    }
  });
});
