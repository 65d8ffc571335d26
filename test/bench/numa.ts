// redis-benchmark through a braid pair with the receiving braid's scheduler numa-local against
// default, the shape of the experiment braid starts from (Netdev 0x19: +30% Redis throughput with
// the NUMA-local NIC preferred). The server node is described to braid as two sockets (fake
// sysfs: path 0's NIC and CPU 0 on node 0, path 1's NIC and CPU 1 on node 1) and redis-server is
// pinned to CPU 1. This machine has one socket, so "local" saves no interconnect crossing here:
// the table shows that steering holds (share of the server's received bytes on path 1) and what
// it costs, not the gain a real two-socket server would see.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BraidNode, pathsFor } from '../../src/demo/braid-node';
import { Testbed, waitForPort } from '../../src/testbed';
import { runRedisBenchmark, type RedisResult } from './redis';
import type { Table } from './table';

const CLIENT = 0;
const SERVER = 1;
const REDIS = 6379;
const INBOUND = { default: 16380, 'numa-local': 16381 } as const;
const FORWARD = { default: 16379, 'numa-local': 16389 } as const;
export const NUMA_SCHEDULERS = ['default', 'numa-local'] as const;
type Scheduler = (typeof NUMA_SCHEDULERS)[number];

export interface NumaRow {
  scheduler: Scheduler;
  pipeline: number;
  results?: RedisResult[];
  /** Share of the bytes node 1 received on path 1 (the NIC of redis-server's node). */
  localShare?: number;
  error?: string;
}

function fakeSysfs(bed: Testbed): string {
  const root = mkdtempSync(path.join(tmpdir(), 'braid-bench-sysfs-'));
  for (const node of [0, 1]) {
    mkdirSync(path.join(root, `devices/system/node/node${node}`), { recursive: true });
    writeFileSync(path.join(root, `devices/system/node/node${node}/cpulist`), `${node}\n`);
    mkdirSync(path.join(root, 'class/net', bed.iface(node), 'device'), { recursive: true });
    writeFileSync(path.join(root, 'class/net', bed.iface(node), 'device/numa_node'), `${node}\n`);
  }
  return root;
}

export async function numaRows(options: { requests: number; clients: number; pipelines: number[]; progress: (l: string) => void }): Promise<NumaRow[]> {
  const bed = await Testbed.create({ nodes: 2, paths: 2 });
  const sysfs = fakeSysfs(bed);
  const server = new BraidNode(bed, SERVER, {
    config: {
      paths: pathsFor(bed, 2),
      mptcp: { pathManager: 'userspace' },
      topology: { sysfsRoot: sysfs, reevaluate: '200ms' },
      listeners: NUMA_SCHEDULERS.map((s) => ({ name: `redis-${s}`, mode: 'inbound', listen: `0.0.0.0:${INBOUND[s]}`, target: `127.0.0.1:${REDIS}`, scheduler: s })),
      log: { level: 'warn' },
    },
  });
  const client = new BraidNode(bed, CLIENT, {
    config: {
      paths: pathsFor(bed, 2),
      listeners: NUMA_SCHEDULERS.map((s) => ({ name: `redis-${s}`, mode: 'forward', listen: `127.0.0.1:${FORWARD[s]}`, upstream: `${bed.address(SERVER, 0)}:${INBOUND[s]}` })),
      log: { level: 'warn' },
    },
  });
  const rows: NumaRow[] = [];
  try {
    bed.spawn(SERVER, ['taskset', '-c', '1', 'redis-server', '--port', String(REDIS), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPort(bed, SERVER, REDIS);
    await server.start();
    await client.start();
    // Rounds alternate the schedulers so a burst of outside load hits both.
    for (const pipeline of options.pipelines) {
      for (const scheduler of NUMA_SCHEDULERS) {
        options.progress(`  ${scheduler}, -P ${pipeline}`);
        try {
          const before = [await bed.counters(SERVER, 0), await bed.counters(SERVER, 1)];
          // Pipelined runs get as many round trips as unpipelined ones, so they last as long.
          const results = await runRedisBenchmark(bed, { node: CLIENT, host: '127.0.0.1', port: FORWARD[scheduler], requests: options.requests * pipeline, clients: options.clients, pipeline });
          const after = [await bed.counters(SERVER, 0), await bed.counters(SERVER, 1)];
          const rx = [0, 1].map((p) => after[p]!.rxBytes - before[p]!.rxBytes);
          rows.push({ scheduler, pipeline, results, localShare: rx[1]! / (rx[0]! + rx[1]!) });
        } catch (err) {
          rows.push({ scheduler, pipeline, error: (err as Error).message });
        }
      }
    }
  } finally {
    for (const n of [client, server]) {
      const code = await n.stop().catch(() => -1);
      if (code === 0 || code === null) n.removeFiles();
      else options.progress(`braid in ${bed.nodeName(n.node)} exited ${code}; its log is ${n.logFile}`);
    }
    await bed.destroy();
    rmSync(sysfs, { recursive: true, force: true });
  }
  return rows;
}

const fmt = (v: number | undefined, digits: number): string => (v === undefined ? '—' : v.toFixed(digits));
const ratio = (v: number | undefined, base: number | undefined): string =>
  v === undefined || base === undefined || base === 0 ? '—' : `${(v / base).toFixed(2)}x`;

export function numaTable(rows: NumaRow[], requests: number, clients: number): Table {
  const out: string[][] = [];
  for (const test of ['SET', 'GET']) {
    for (const row of rows) {
      const r = row.results?.find((x) => x.test === test);
      const base = rows.find((b) => b.scheduler === 'default' && b.pipeline === row.pipeline)?.results?.find((x) => x.test === test);
      out.push([
        test,
        String(row.pipeline),
        row.scheduler,
        r ? fmt(r.rps, 0) : 'failed',
        ratio(r?.rps, base?.rps),
        fmt(r?.p50Ms, 3),
        fmt(r?.p99Ms, 3),
        ratio(r?.p99Ms, base?.p99Ms),
        row.localShare === undefined ? '—' : `${(row.localShare * 100).toFixed(1)}%`,
      ]);
    }
  }
  return {
    title: `redis-benchmark through a braid pair, numa-local vs default (${requests} requests x -P, ${clients} connections, unshaped; one-socket machine described as two)`,
    columns: [
      { header: 'test', align: 'left' },
      { header: '-P', align: 'right' },
      { header: 'scheduler', align: 'left' },
      { header: 'requests/s', align: 'right' },
      { header: 'rps vs default', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'p99 vs default', align: 'right' },
      { header: 'node-1 bytes in on path 1', align: 'right' },
    ],
    rows: out,
  };
}
