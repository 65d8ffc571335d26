// One throughput measurement: an iperf3 run plus what it cost. Reads the proxy processes' CPU
// time and node 0's per-path transmit counters before and after, so the costs cover the run.
import type { Testbed } from '../../src/testbed';
import { cpuSeconds } from './cpu';
import { runIperf, type IperfResult, type IperfRun } from './iperf';
import { CLIENT } from './setups';

export interface Throughput {
  label: string;
  result?: IperfResult;
  error?: string;
  /** Share of node 0's transmitted bytes per path (headers included). */
  pathShares?: number[];
  /** CPU seconds of every proxy process, and of the ones on node 0 alone. */
  cpuAll?: number;
  cpuClientSide?: number;
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

export async function measureThroughput(bed: Testbed, label: string, run: IperfRun, pids?: ProxyPids): Promise<Throughput> {
  const out: Throughput = { label };
  try {
    const tx0 = await txBytes(bed);
    const client0 = pids ? totalCpu(pids.clientSide) : 0;
    const server0 = pids ? totalCpu(pids.serverSide) : 0;
    out.result = await runIperf(bed, run);
    if (pids) {
      const client = totalCpu(pids.clientSide) - client0;
      out.cpuClientSide = client;
      out.cpuAll = client + totalCpu(pids.serverSide) - server0;
    }
    const tx1 = await txBytes(bed);
    const deltas = tx1.map((v, p) => v - (tx0[p] ?? 0));
    const sum = deltas.reduce((a, b) => a + b, 0);
    out.pathShares = deltas.map((d) => (sum > 0 ? d / sum : 0));
  } catch (err) {
    out.error = (err as Error).message;
  }
  return out;
}

/** CPU seconds per GB (1e9 bytes) received. */
export function cpuPerGB(cpu: number | undefined, t: Throughput): number | undefined {
  if (cpu === undefined || t.result === undefined || t.result.bytes === 0) return undefined;
  return cpu / (t.result.bytes / 1e9);
}
