// Runs redis-benchmark in a test-bed node and reads its --csv output (redis-benchmark 7 prints
// one line per test with rps and latency percentiles in milliseconds).
import type { Testbed } from '../../src/testbed';

export interface RedisResult {
  test: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

// "a","b,c" -> ['a', 'b,c']; redis-benchmark quotes every field and never embeds quotes.
function csvFields(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|([^,]+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** Parses redis-benchmark --csv: a header line naming the columns, then one line per test. */
export function parseRedisCsv(text: string): RedisResult[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('"'));
  const header = lines.shift();
  if (header === undefined) throw new Error(`redis-benchmark printed no CSV: ${text.slice(0, 300)}`);
  const cols = csvFields(header);
  const at = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`redis-benchmark CSV has no "${name}" column (has ${cols.join(', ')})`);
    return i;
  };
  const [iTest, iRps, iP50, iP99] = [at('test'), at('rps'), at('p50_latency_ms'), at('p99_latency_ms')];
  return lines.map((line) => {
    const f = csvFields(line);
    const num = (i: number): number => {
      const v = Number(f[i]);
      if (!Number.isFinite(v)) throw new Error(`redis-benchmark CSV: "${f[i]}" is not a number in ${line}`);
      return v;
    };
    return { test: f[iTest] ?? '?', rps: num(iRps), p50Ms: num(iP50), p99Ms: num(iP99) };
  });
}

export interface RedisRun {
  node: number;
  host: string;
  port: number;
  requests: number;
  clients: number;
  mptcpize?: boolean;
  /** Requests per round trip (-P); default 1. */
  pipeline?: number;
}

export async function runRedisBenchmark(bed: Testbed, run: RedisRun): Promise<RedisResult[]> {
  const argv = ['redis-benchmark', '-h', run.host, '-p', String(run.port), '-t', 'set,get',
    '-n', String(run.requests), '-c', String(run.clients), '-P', String(run.pipeline ?? 1), '--csv'];
  const r = await bed.exec(run.node, run.mptcpize === true ? ['mptcpize', 'run', ...argv] : argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`redis-benchmark exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  const results = parseRedisCsv(r.stdout);
  for (const t of ['SET', 'GET']) {
    if (!results.some((x) => x.test === t)) throw new Error(`redis-benchmark reported no ${t} line: ${r.stdout.slice(0, 300)}`);
  }
  return results;
}
