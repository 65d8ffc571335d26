// `npm run bench`: throughput, proxy CPU and redis latency for direct TCP, kernel MPTCP, a braid
// pair and HAProxy, measured in one run on one 2-node x 2-path test bed. Prints the tables and
// writes them to docs/benchmarks.md. It asserts nothing: it exits non-zero only when something
// could not run (then the document is left as it was).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds } from './cpu';
import { benchmarkDoc } from './doc';
import { machineInfo } from './machine';
import type { IperfRun } from './iperf';
import { measureThroughput, type ProxyPids, type Throughput } from './measure';
import { runRedisBenchmark } from './redis';
import { mptcpCounter } from './mib';
import { BenchBed, CLIENT, PORTS, SERVER } from './setups';
import { renderText, type Table } from './table';
import { redisTable, shapedTable, unshapedTable, type RedisRow } from './tables';
import { numaRows, numaTable, type NumaRow } from './numa';

const REPO = path.resolve(__dirname, '../../..');
const RATE = '100mbit';
const REDIS_REQUESTS = 100_000;
const REDIS_CLIENTS = 50;

const LABEL = {
  direct: 'direct TCP, one path',
  mptcp: 'kernel MPTCP (mptcpize), no proxy',
  braid: 'braid pair (forward -> inbound)',
  haproxy: 'HAProxy (mode tcp, nbthread 2)',
};

const progress = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

interface ThroughputSetup {
  label: string;
  run: IperfRun;
  pids?: ProxyPids;
}

function throughputSetups(b: BenchBed, seconds: number, withHaproxy: boolean): ThroughputSetup[] {
  const host = b.serverAddress;
  const [fwd, inb, hap] = [b.forward.pid, b.inbound.pid, b.haproxy?.pid];
  if (fwd === undefined || inb === undefined || hap === undefined) throw new Error('a proxy has no pid: not started?');
  const setups: ThroughputSetup[] = [
    { label: LABEL.direct, run: { node: CLIENT, host, port: PORTS.iperfDirect, seconds } },
    { label: LABEL.mptcp, run: { node: CLIENT, host, port: PORTS.iperfMptcp, seconds, mptcpize: true } },
    { label: LABEL.braid, run: { node: CLIENT, host: '127.0.0.1', port: PORTS.iperfForward, seconds }, pids: { clientSide: [fwd], serverSide: [inb] } },
  ];
  if (withHaproxy) {
    setups.push({ label: LABEL.haproxy, run: { node: CLIENT, host: '127.0.0.1', port: PORTS.iperfHaproxy, seconds }, pids: { clientSide: [hap], serverSide: [] } });
  }
  return setups;
}

// Repeats go round the setups in turn, so a burst of load from elsewhere on the machine hits one
// run of several setups rather than every run of one.
async function throughputRows(b: BenchBed, setups: ThroughputSetup[], repeats: number): Promise<Throughput[]> {
  const rows: Throughput[] = setups.map((s) => ({ label: s.label, runs: [] }));
  for (let i = 0; i < repeats; i++) {
    for (const [k, s] of setups.entries()) {
      const row = rows[k]!;
      if (row.error !== undefined) continue;
      const name = `${s.label}${repeats > 1 ? ` (run ${i + 1}/${repeats})` : ''}`;
      try {
        const run = await measureThroughput(b.bed, s.run, s.pids);
        row.runs.push(run);
        progress(`  ${name}: ${run.result.mbitPerSecond.toFixed(1)} Mbit/s`);
      } catch (err) {
        progress(`  ${name}: failed`);
        row.error = (err as Error).message;
      }
    }
  }
  return rows;
}

async function redisRows(b: BenchBed): Promise<RedisRow[]> {
  const rows: RedisRow[] = [];
  const braid = [b.forward.pid, b.inbound.pid].filter((p): p is number => p !== undefined);
  const haproxy = b.haproxy?.pid !== undefined ? [b.haproxy.pid] : [];
  const runs: Array<{ label: string; host: string; port: number; mptcpize: boolean; proxies: number[] }> = [
    { label: LABEL.direct, host: b.serverAddress, port: PORTS.redis, mptcpize: false, proxies: [] },
    { label: LABEL.mptcp, host: b.serverAddress, port: PORTS.redisMptcp, mptcpize: true, proxies: [] },
    { label: LABEL.braid, host: '127.0.0.1', port: PORTS.redisForward, mptcpize: false, proxies: braid },
    { label: LABEL.haproxy, host: '127.0.0.1', port: PORTS.redisHaproxy, mptcpize: false, proxies: haproxy },
  ];
  for (const { label, host, port, mptcpize, proxies } of runs) {
    progress(`  ${label}`);
    try {
      const syn0 = await mptcpCounter(b.bed, SERVER, 'MPCapableSYNRX');
      const cpu0 = proxies.map(cpuSeconds);
      const results = await runRedisBenchmark(b.bed, { node: CLIENT, host, port, requests: REDIS_REQUESTS, clients: REDIS_CLIENTS, mptcpize });
      const cpu = proxies.reduce((sum, pid, i) => sum + cpuSeconds(pid) - (cpu0[i] ?? 0), 0);
      const mptcpSyns = (await mptcpCounter(b.bed, SERVER, 'MPCapableSYNRX')) - syn0;
      const requests = REDIS_REQUESTS * results.length;
      rows.push({ label, results, mptcpSyns, ...(proxies.length > 0 ? { cpuMicrosPerRequest: (cpu / requests) * 1e6 } : {}) });
    } catch (err) {
      rows.push({ label, error: (err as Error).message });
    }
  }
  return rows;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '6' },
      repeat: { type: 'string', default: '3' },
      out: { type: 'string', default: path.join(REPO, 'docs/benchmarks.md') },
    },
  });
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) throw new Error(`--seconds must be an integer 1..60, got ${values.seconds}`);
  const repeats = Number(values.repeat);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 9) throw new Error(`--repeat must be an integer 1..9, got ${values.repeat}`);
  if (process.getuid?.() !== 0) throw new Error('the benchmark builds network namespaces: run it as root');
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const started = Date.now();

  progress(`building a 2-node x 2-path bed shaped to ${RATE}, starting servers, braid and haproxy`);
  const b = await BenchBed.create(RATE);
  let shaped: Throughput[];
  let unshaped: Throughput[];
  let redis: RedisRow[];
  try {
    progress(`shaped (${RATE} per path), iperf3 -t ${seconds}:`);
    shaped = await throughputRows(b, throughputSetups(b, seconds, false), 1);
    await b.unshape();
    progress(`unshaped, iperf3 -t ${seconds}, ${repeats} runs each:`);
    unshaped = await throughputRows(b, throughputSetups(b, seconds, true), repeats);
    progress(`unshaped, redis-benchmark -n ${REDIS_REQUESTS} -c ${REDIS_CLIENTS}:`);
    redis = await redisRows(b);
  } finally {
    await b.destroy();
  }
  progress(`numa-local vs default, redis-benchmark -n ${REDIS_REQUESTS} -c ${REDIS_CLIENTS} -P 1 and 16 (a fresh bed):`);
  const numa: NumaRow[] = await numaRows({ requests: REDIS_REQUESTS, clients: REDIS_CLIENTS, pipelines: [1, 16], progress });
  progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const tables: Table[] = [
    shapedTable(RATE, shaped),
    unshapedTable(unshaped, repeats),
    redisTable(redis, REDIS_REQUESTS, REDIS_CLIENTS),
    numaTable(numa, REDIS_REQUESTS, REDIS_CLIENTS),
  ];
  process.stdout.write(`${tables.map(renderText).join('\n\n')}\n`);

  const failures = [...shaped, ...unshaped, ...redis, ...numa.map((r) => ({ ...r, label: `numa ${r.scheduler} -P ${r.pipeline}` }))].filter((r) => r.error !== undefined);
  if (failures.length > 0) {
    for (const f of failures) process.stderr.write(`bench: ${f.label} could not run: ${f.error}\n`);
    process.stderr.write(`bench: ${values.out} left unchanged\n`);
    return 1;
  }
  writeFileSync(values.out, benchmarkDoc({ command, machine: machineInfo(REPO), seconds, repeats, tables }));
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), values.out) || values.out}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
