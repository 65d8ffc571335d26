// A pod behind the node: its traffic is routed through node 0, where braid (like a DaemonSet on
// the host) captures it with TPROXY and carries it over MPTCP to node 1. The pod runs plain curl.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { BraidNode, pathsFor } from '../../src/demo/braid-node';
import { extraNsName, Testbed, waitForPort } from '../../src/testbed';

const run = promisify(execFile);
const WEB = 8080;

async function sh(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(argv[0]!, argv.slice(1), { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** A "pod" namespace on node 0: 198.19.0.2 behind node 0's 198.19.0.1, default route via it. */
async function addPod(bed: Testbed): Promise<string> {
  const pod = extraNsName(bed.prefix, 'pod');
  const node0 = bed.nodeName(0);
  const steps = [
    ['ip', 'netns', 'add', pod],
    ['ip', '-n', pod, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', node0, 'link', 'add', 'pod0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod],
    ['ip', '-n', node0, 'addr', 'add', '198.19.0.1/24', 'dev', 'pod0'],
    ['ip', '-n', node0, 'link', 'set', 'pod0', 'up'],
    ['ip', '-n', pod, 'addr', 'add', '198.19.0.2/24', 'dev', 'eth0'],
    ['ip', '-n', pod, 'link', 'set', 'eth0', 'up'],
    ['ip', '-n', pod, 'route', 'add', 'default', 'via', '198.19.0.1'],
    ['ip', 'netns', 'exec', node0, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'],
  ];
  for (const argv of steps) {
    const r = await sh(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
  return pod;
}

async function mib(bed: Testbed, node: number, name: string): Promise<number> {
  const r = await bed.exec(node, ['nstat', '-az', name]);
  return Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
}

describe('routed capture (TPROXY) for pods behind the node', () => {
  it('carries a pod\'s unmodified curl over MPTCP by the real address, and leaves no rule or route behind', async () => {
    const bed = await Testbed.create({ nodes: 2, paths: 2, rate: '100mbit' });
    let pod: string | undefined;
    const dir = mkdtempSync(path.join(tmpdir(), 'braid-routed-'));
    const server = new BraidNode(bed, 1, {
      config: { paths: pathsFor(bed, 2), listeners: [{ name: 'apps', mode: 'transparent-inbound', ports: [WEB] }] },
    });
    const gateway = new BraidNode(bed, 0, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [{ name: 'pods', mode: 'transparent', capture: ['routed'] }],
        policies: [
          { name: 'lab', match: { destination: ['198.18.1.0/24', '198.18.2.0/24'] }, action: 'mptcp' },
          { name: 'default', action: 'bypass' },
        ],
      },
    });
    try {
      pod = await addPod(bed);
      const blob = randomBytes(8 << 20);
      writeFileSync(path.join(dir, 'blob'), blob);
      bed.spawn(1, ['python3', '-m', 'http.server', String(WEB), '--bind', '0.0.0.0', '--directory', dir], { stdio: 'ignore' });
      await waitForPort(bed, 1, WEB);
      await server.start();
      await gateway.start();

      const joins = await mib(bed, 1, 'MPTcpExtMPJoinAckRx');
      const r = await sh(['ip', 'netns', 'exec', pod, 'sh', '-c', `curl -sS --max-time 20 http://198.18.1.2:${WEB}/blob | sha256sum`]);
      assert.equal(r.stdout.split(' ')[0], createHash('sha256').update(blob).digest('hex'), r.stderr);
      assert.ok((await mib(bed, 1, 'MPTcpExtMPJoinAckRx')) > joins, 'the server kernel acknowledged an MP_JOIN');

      const deadline = Date.now() + 5000;
      let closes: Array<Record<string, unknown>> = [];
      while (closes.length === 0 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
        closes = readFileSync(gateway.logFile, 'utf8').split('\n').filter((l) => l.includes('"connection closed"')).map((l) => JSON.parse(l));
      }
      assert.ok(closes.some((c) => c.policy === 'lab' && c.outcome === 'mptcp' && String(c.client).startsWith('198.19.0.2:')), JSON.stringify(closes));

      assert.match((await bed.exec(0, ['ip', 'rule', 'show'])).stdout, /fwmark 0x6274 lookup 25204/);
      // A transfer in flight when braid is told to stop finishes: braid drains routed
      // connections like any other, and nothing it removes at the start of the drain cuts them.
      const slow = sh(['ip', 'netns', 'exec', pod, 'sh', '-c', `curl -sS --max-time 30 --limit-rate 4M http://198.18.1.2:${WEB}/blob | sha256sum`]);
      await new Promise((res) => setTimeout(res, 700));
      const stopped = gateway.stop('SIGTERM');
      const during = await slow;
      assert.equal(during.stdout.split(' ')[0], createHash('sha256').update(blob).digest('hex'), `transfer across the drain: ${during.stderr}`);
      assert.equal(await stopped, 0);
      assert.doesNotMatch((await bed.exec(0, ['ip', 'rule', 'show'])).stdout, /0x6274/);
      assert.equal((await bed.exec(0, ['ip', 'route', 'show', 'table', '25204'])).stdout.trim(), '');
      assert.equal((await bed.exec(0, ['ip', '-6', 'route', 'show', 'table', '25204'])).stdout.trim(), '');
      assert.doesNotMatch((await bed.exec(0, ['nft', 'list', 'tables'])).stdout, /braid/);
    } finally {
      await gateway.finish();
      await server.finish();
      if (pod) await sh(['ip', 'netns', 'del', pod]);
      await bed.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
