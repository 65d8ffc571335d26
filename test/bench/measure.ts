// Throughput measurements: an iperf3 run plus what it cost. Reads the proxy processes' CPU time
// and node 0's per-path transmit counters before and after, so the costs cover the run. A row may
// hold several runs (repeats); the helpers below summarise them.
import type { Testbed } from '../../src/testbed';
import { cpuSeconds } from './cpu';
import { runIperf, type IperfResult, type IperfRun } from './iperf';
import { CLIENT } from './setups';

export interface ThroughputRun {
  result: IperfResult;
  /** Bytes node 0 transmitted on each path during the run (headers included). */
  txBytes: number[];
  /** CPU seconds of every proxy process, and of the ones on node 0 alone. */
  cpuAll?: number;
  cpuClientSide?: number;
}

export interface Throughput {
  label: string;
  runs: ThroughputRun[];
  /** Why a run failed; the row then has the runs made before it. */
  error?: string;
}

export interface ProxyPids {
  /** Proxy processes on node 0 (braid forward, haproxy). */
  clientSide: number[];
  /** Proxy processes on node 1 (braid inbound). */
  serverSide: number[];
}

function totalCpu(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

async function txBytes(bed: Testbed): Promise<number[]> {
  return Promise.all(Array.from({ length: bed.paths }, (_, p) => bed.counters(CLIENT, p).then((c) => c.txBytes)));
}

export async function measureThroughput(bed: Testbed, run: IperfRun, pids?: ProxyPids): Promise<ThroughputRun> {
  const tx0 = await txBytes(bed);
  const client0 = pids ? totalCpu(pids.clientSide) : 0;
  const server0 = pids ? totalCpu(pids.serverSide) : 0;
  const result = await runIperf(bed, run);
  const out: ThroughputRun = { result, txBytes: [] };
  if (pids) {
    out.cpuClientSide = totalCpu(pids.clientSide) - client0;
    out.cpuAll = out.cpuClientSide + totalCpu(pids.serverSide) - server0;
  }
  const tx1 = await txBytes(bed);
  out.txBytes = tx1.map((v, p) => v - (tx0[p] ?? 0));
  return out;
}

/** The run with the median rate (the lower middle one for an even count). */
export function medianRun(t: Throughput): ThroughputRun | undefined {
  const sorted = [...t.runs].sort((a, b) => a.result.mbitPerSecond - b.result.mbitPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Lowest and highest rate over the runs. */
export function rateRange(t: Throughput): [number, number] | undefined {
  if (t.runs.length === 0) return undefined;
  const rates = t.runs.map((r) => r.result.mbitPerSecond);
  return [Math.min(...rates), Math.max(...rates)];
}

/** CPU seconds per GB (1e9 bytes) received, over all runs together. */
export function cpuPerGB(t: Throughput, which: 'all' | 'clientSide'): number | undefined {
  let cpu = 0;
  let bytes = 0;
  for (const r of t.runs) {
    const c = which === 'all' ? r.cpuAll : r.cpuClientSide;
    if (c === undefined) return undefined;
    cpu += c;
    bytes += r.result.bytes;
  }
  return bytes > 0 ? cpu / (bytes / 1e9) : undefined;
}

/** Each path's share of what node 0 transmitted, over all runs together. */
export function pathShares(t: Throughput): number[] | undefined {
  if (t.runs.length === 0) return undefined;
  const sums = t.runs[0].txBytes.map((_, p) => t.runs.reduce((s, r) => s + (r.txBytes[p] ?? 0), 0));
  const total = sums.reduce((a, b) => a + b, 0);
  return sums.map((s) => (total > 0 ? s / total : 0));
}
