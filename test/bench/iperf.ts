// Runs an iperf3 client in a test-bed node and reads its JSON report (-J).
import type { Testbed } from '../../src/testbed';

export interface IperfResult {
  /** Bytes the server received (end.sum_received). */
  bytes: number;
  seconds: number;
  mbitPerSecond: number;
  /** iperf3's own CPU use, percent of one core: the client (host) and the server (remote). */
  clientCpuPercent: number | undefined;
  serverCpuPercent: number | undefined;
}

interface IperfReport {
  error?: string;
  end?: {
    sum_received?: { bytes?: number; seconds?: number; bits_per_second?: number };
    cpu_utilization_percent?: { host_total?: number; remote_total?: number };
  };
}

/** Parses `iperf3 -J` output; throws with iperf3's own error text when the run failed. */
export function parseIperfJson(text: string): IperfResult {
  let report: IperfReport;
  try {
    report = JSON.parse(text) as IperfReport;
  } catch {
    throw new Error(`iperf3 printed no JSON report: ${text.slice(0, 300)}`);
  }
  if (report.error !== undefined) throw new Error(`iperf3: ${report.error}`);
  const sum = report.end?.sum_received;
  if (typeof sum?.bytes !== 'number' || typeof sum.seconds !== 'number' || typeof sum.bits_per_second !== 'number') {
    throw new Error('iperf3 report has no end.sum_received');
  }
  const cpu = report.end?.cpu_utilization_percent;
  return {
    bytes: sum.bytes,
    seconds: sum.seconds,
    mbitPerSecond: sum.bits_per_second / 1e6,
    clientCpuPercent: cpu?.host_total,
    serverCpuPercent: cpu?.remote_total,
  };
}

export interface IperfRun {
  node: number;
  host: string;
  port: number;
  seconds: number;
  /** Run the client under `mptcpize run` (its sockets become MPTCP). */
  mptcpize?: boolean;
}

export async function runIperf(bed: Testbed, run: IperfRun): Promise<IperfResult> {
  const argv = ['iperf3', '-c', run.host, '-p', String(run.port), '-t', String(run.seconds), '-J'];
  const r = await bed.exec(run.node, run.mptcpize === true ? ['mptcpize', 'run', ...argv] : argv, {
    timeoutMs: (run.seconds + 30) * 1000,
  });
  // iperf3 -J reports its errors inside the JSON too; prefer that text over a bare exit status.
  try {
    return parseIperfJson(r.stdout);
  } catch (err) {
    if (r.code === 0) throw err;
    throw new Error(`${(err as Error).message} (exit ${r.code}${r.stderr ? `: ${r.stderr.trim()}` : ''})`);
  }
}
