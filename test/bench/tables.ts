// The benchmark's three tables, built from the measurements (the same cells go to stdout and docs).
import type { RedisResult } from './redis';
import { cpuPerGB, medianRun, pathShares, rateRange, type Throughput } from './measure';
import { fmt, ratio, type Table } from './table';

function shares(t: Throughput): string {
  return pathShares(t)?.map((s) => `${Math.round(s * 100)}%`).join(' / ') ?? '—';
}

function mbit(t: Throughput): string {
  const m = medianRun(t);
  return m && t.error === undefined ? fmt(m.result.mbitPerSecond, 1) : 'failed';
}

export function shapedTable(rate: string, rows: Throughput[]): Table {
  const base = medianRun(rows[0]!)?.result.mbitPerSecond;
  return {
    title: `Throughput, both paths shaped to ${rate} (iperf3, one connection)`,
    columns: [
      { header: 'setup', align: 'left' },
      { header: 'Mbit/s', align: 'right' },
      { header: 'vs direct', align: 'right' },
      { header: 'path 0 / path 1', align: 'right' },
    ],
    rows: rows.map((t) => [t.label, mbit(t), ratio(medianRun(t)?.result.mbitPerSecond, base), shares(t)]),
  };
}

export function unshapedTable(rows: Throughput[], repeats: number): Table {
  const base = medianRun(rows[0]!)?.result.mbitPerSecond;
  return {
    title: `Throughput and proxy CPU, unshaped (iperf3, one connection, median of ${repeats} runs)`,
    columns: [
      { header: 'setup', align: 'left' },
      { header: 'Mbit/s', align: 'right' },
      { header: 'min-max', align: 'right' },
      { header: 'vs direct', align: 'right' },
      { header: 'CPU s/GB, all proxies', align: 'right' },
      { header: 'CPU s/GB, node-0 proxy', align: 'right' },
      { header: 'iperf3 CPU % client/server', align: 'right' },
      { header: 'path 0 / path 1', align: 'right' },
    ],
    rows: rows.map((t) => {
      const m = medianRun(t);
      const range = rateRange(t);
      return [
        t.label,
        mbit(t),
        range ? `${range[0].toFixed(0)}-${range[1].toFixed(0)}` : '—',
        ratio(m?.result.mbitPerSecond, base),
        fmt(cpuPerGB(t, 'all'), 2),
        fmt(cpuPerGB(t, 'clientSide'), 2),
        m ? `${fmt(m.result.clientCpuPercent, 0)} / ${fmt(m.result.serverCpuPercent, 0)}` : '—',
        shares(t),
      ];
    }),
  };
}

export interface RedisRow {
  label: string;
  results?: RedisResult[];
  /** MP_CAPABLE SYNs the server node received during the run (both tests). */
  mptcpSyns?: number;
  /** CPU time of the proxy processes per request, SET and GET together. */
  cpuMicrosPerRequest?: number;
  error?: string;
}

export function redisTable(rows: RedisRow[], requests: number, clients: number): Table {
  const base = rows[0]?.results;
  const out: string[][] = [];
  for (const test of ['SET', 'GET']) {
    const b = base?.find((r) => r.test === test);
    for (const row of rows) {
      const r = row.results?.find((x) => x.test === test);
      out.push([
        test,
        row.label,
        r ? fmt(r.rps, 0) : 'failed',
        ratio(r?.rps, b?.rps),
        fmt(r?.p50Ms, 3),
        fmt(r?.p99Ms, 3),
        ratio(r?.p50Ms, b?.p50Ms),
        ratio(r?.p99Ms, b?.p99Ms),
        fmt(row.cpuMicrosPerRequest, 1),
        fmt(row.mptcpSyns, 0),
      ]);
    }
  }
  return {
    title: `redis-benchmark, unshaped (${requests} requests, ${clients} connections, no pipelining)`,
    columns: [
      { header: 'test', align: 'left' },
      { header: 'setup', align: 'left' },
      { header: 'requests/s', align: 'right' },
      { header: 'rps vs direct', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'p50 vs direct', align: 'right' },
      { header: 'p99 vs direct', align: 'right' },
      { header: 'proxy CPU µs/req', align: 'right' },
      { header: 'MPTCP SYNs at node 1', align: 'right' },
    ],
    rows: out,
  };
}
