// `npm run bench:ustack`: braid's user-space stack (braid-ustack) against Linux TCP on the same veth
// pair, plus two braid-ustack processes over net_memif. Bulk throughput (socat moving zeros, or
// braid-ustack's source/sink) and request/response latency (a 64-byte ping-pong). Then the MPTCP
// part over two shaped paths (ustack-mptcp.ts, its own namespaces). Prints the tables and writes
// them into docs/ustack-benchmarks.md. Asserts nothing: it fails only when something could not
// run. Needs root and the cmake build (build/ctest/native/ustack/braid-ustack, build/ctest/mptcp-peer).
//
// Placement on the 2-core machine: braid-ustack busy-polls (--busy-poll) pinned to CPU 1; the
// Linux programs run pinned to CPU 0 (the Linux baseline's server on CPU 1, like braid-ustack).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { extraNsName } from '../../src/testbed';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';
import { machineInfo } from './machine';
import { fmt, ratio, renderMarkdown, renderText, type Table } from './table';
import { mptcpBench, type MptcpReport } from './ustack-mptcp';
import {
  BINARY, inNs, listening, median, MiB, must, NODE_RR, progress, REPO, timed, Ustack, withServer,
} from './ustack-proc';

const DOC = path.join(REPO, 'docs/ustack-benchmarks.md');
const REPEATS = 3;
const RR_ROUNDS = 5000;
const RR_SIZE = 64;
const LINUX = '198.18.0.1';        // Linux, in the client namespace (veth ul0)
const STACK = '198.18.0.2';        // braid-ustack on the other veth end (us0), over af_packet
const KERNEL_PEER = '198.18.0.3';  // the kernel's own address on us0, for the Linux baseline only

interface Bed {
  linux: string;
  stack: string;
  memifSock: string;
}

const AF_PACKET = ['--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK}/24`];
const memif = (b: Bed, role: 'server' | 'client', ip: string): string[] => {
  // A server stopped by SIGTERM may leave its socket file, and the next one's bind would fail.
  if (role === 'server') rmSync(b.memifSock, { force: true });
  return ['--vdev', `net_memif0,role=${role},socket=${b.memifSock},socket-abstract=no`, '--ip', `${ip}/24`];
};

// ---- throughput ----

interface ThroughputRow {
  setup: string;
  port: string;
  bytes: number;
  seconds: number[];
}

async function linuxBaseline(b: Bed, bytes: number): Promise<number> {
  return withServer(
    () => spawn('ip', ['netns', 'exec', b.stack, 'taskset', '-c', '1', 'socat', '-u', '-b', '131072',
      'TCP4-LISTEN:7501,reuseaddr', 'CREATE:/dev/null'], { stdio: 'ignore' }),
    () => listening(b.stack, 7501),
    () => timed(inNs(b.linux, 0, ['socat', '-u', '-b', '131072', `OPEN:/dev/zero,readbytes=${bytes}`, `TCP4:${KERNEL_PEER}:7501`])),
  );
}

async function linuxToUstack(b: Bed, bytes: number): Promise<number> {
  const sink = new Ustack(b.stack, [...AF_PACKET, '--mode', 'sink', '--port', '7502', '--no-hash']);
  return withServer(() => sink, () => sink.ready(),
    () => timed(inNs(b.linux, 0, ['socat', '-u', '-b', '131072', `OPEN:/dev/zero,readbytes=${bytes}`, `TCP4:${STACK}:7502`])));
}

async function ustackToLinux(b: Bed, bytes: number): Promise<number> {
  return withServer(
    () => spawn('ip', ['netns', 'exec', b.linux, 'taskset', '-c', '0', 'socat', '-u', '-b', '131072',
      'TCP4-LISTEN:7503,reuseaddr', 'CREATE:/dev/null'], { stdio: 'ignore' }),
    () => listening(b.linux, 7503),
    async () => {
      const src = new Ustack(b.stack, [...AF_PACKET, '--mode', 'source', '--connect', `${LINUX}:7503`, '--bytes', String(bytes), '--no-hash']);
      return (await src.result()).seconds!;
    },
  );
}

async function ustackMemif(b: Bed, bytes: number): Promise<number> {
  const sink = new Ustack(b.stack, [...memif(b, 'server', STACK), '--mode', 'sink', '--port', '7504', '--no-hash']);
  return withServer(() => sink, () => sink.ready(), async () => {
    // The second braid-ustack goes on CPU 0: each busy-polls a core of its own.
    const src = new Ustack(b.stack, [...memif(b, 'client', LINUX), '--mode', 'source', '--connect', `${STACK}:7504`,
      '--bytes', String(bytes), '--no-hash'], 0);
    return (await src.result()).seconds!;
  });
}

// ---- latency ----

interface LatencyRow {
  setup: string;
  port: string;
  mean: number;
  p50: number;
  p99: number;
}

function nodeRr(b: Bed, host: string, port: number): Promise<string> {
  return must(inNs(b.linux, 0, [process.execPath, '-e', NODE_RR, host, String(port), String(RR_SIZE), String(RR_ROUNDS)]));
}

function parseRr(setup: string, portLabel: string, r: { mean_us?: number; p50_us?: number; p99_us?: number }): LatencyRow {
  return { setup, port: portLabel, mean: r.mean_us ?? NaN, p50: r.p50_us ?? NaN, p99: r.p99_us ?? NaN };
}

async function latencyRows(b: Bed): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  progress('latency: Linux client -> Linux socat echo');
  rows.push(parseRr('Linux client (node) -> Linux echo (socat PIPE)', 'kernel veth', JSON.parse(await withServer(
    () => spawn('ip', ['netns', 'exec', b.stack, 'taskset', '-c', '1', 'socat', 'TCP4-LISTEN:7601,reuseaddr', 'PIPE'], { stdio: 'ignore' }),
    () => listening(b.stack, 7601),
    () => nodeRr(b, KERNEL_PEER, 7601)))));

  progress('latency: Linux client -> ustack echo');
  const echo = new Ustack(b.stack, [...AF_PACKET, '--mode', 'echo', '--port', '7602']);
  rows.push(parseRr('Linux client (node) -> ustack echo', 'af_packet', JSON.parse(await withServer(() => echo, () => echo.ready(),
    () => nodeRr(b, STACK, 7602)))));

  progress('latency: ustack rr -> Linux socat echo');
  rows.push(parseRr('ustack rr -> Linux echo (socat PIPE)', 'af_packet', await withServer(
    () => spawn('ip', ['netns', 'exec', b.linux, 'taskset', '-c', '0', 'socat', 'TCP4-LISTEN:7603,reuseaddr', 'PIPE'], { stdio: 'ignore' }),
    () => listening(b.linux, 7603),
    () => new Ustack(b.stack, [...AF_PACKET, '--mode', 'rr', '--connect', `${LINUX}:7603`, '--count', String(RR_ROUNDS),
      '--size', String(RR_SIZE)]).result())));

  progress('latency: ustack rr -> ustack echo over memif');
  const mecho = new Ustack(b.stack, [...memif(b, 'server', STACK), '--mode', 'echo', '--port', '7604']);
  rows.push(parseRr('ustack rr -> ustack echo', 'memif', await withServer(() => mecho, () => mecho.ready(),
    () => new Ustack(b.stack, [...memif(b, 'client', LINUX), '--mode', 'rr', '--connect', `${STACK}:7604`,
      '--count', String(RR_ROUNDS), '--size', String(RR_SIZE)], 0).result())));
  return rows;
}

// ---- the bed ----

async function makeBed(): Promise<Bed> {
  const prefix = makePrefix();
  const b: Bed = { linux: extraNsName(prefix, 'linux'), stack: extraNsName(prefix, 'stack'), memifSock: `/tmp/${prefix}-memif.sock` };
  await must(['ip', 'netns', 'add', b.linux]);
  await must(['ip', 'netns', 'add', b.stack]);
  await must(['ip', '-n', b.linux, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'us0', 'netns', b.stack]);
  await must(['ip', '-n', b.linux, 'addr', 'add', `${LINUX}/24`, 'dev', 'ul0']);
  await must(['ip', '-n', b.linux, 'link', 'set', 'ul0', 'up']);
  await must(['ip', 'netns', 'exec', b.linux, 'ethtool', '-K', 'ul0', 'tx', 'off']);
  await must(['ip', 'netns', 'exec', b.stack, 'sysctl', '-qw', 'net.ipv6.conf.us0.disable_ipv6=1']);
  await must(['ip', '-n', b.stack, 'link', 'set', 'us0', 'up']);
  await must(['ip', '-n', b.stack, 'link', 'set', 'lo', 'up']);
  // The kernel's own address on us0 serves the Linux baseline; braid-ustack answers for STACK only.
  await must(['ip', '-n', b.stack, 'addr', 'add', `${KERNEL_PEER}/24`, 'dev', 'us0']);
  return b;
}

// ---- the report ----

function throughputTable(rows: ThroughputRow[]): Table {
  const gbps = (r: ThroughputRow): number => (r.bytes * 8) / median(r.seconds) / 1e9;
  const base = rows[0] === undefined ? undefined : gbps(rows[0]);
  return {
    title: 'Bulk throughput, one connection (median of runs)',
    columns: [
      { header: 'setup', align: 'left' }, { header: 'port', align: 'left' }, { header: 'MiB', align: 'right' },
      { header: 'Gbit/s', align: 'right' }, { header: 'runs (s)', align: 'left' }, { header: 'vs Linux', align: 'right' },
    ],
    rows: rows.map((r) => [r.setup, r.port, String(r.bytes / MiB), fmt(gbps(r), 2),
      r.seconds.map((s) => s.toFixed(3)).join(' '), ratio(gbps(r), base)]),
  };
}

function latencyTable(rows: LatencyRow[]): Table {
  const base = rows[0]?.p50;
  return {
    title: `Request/response latency, ${RR_SIZE}-byte ping-pong, ${RR_ROUNDS} rounds (µs per round trip)`,
    columns: [
      { header: 'setup', align: 'left' }, { header: 'port', align: 'left' }, { header: 'mean', align: 'right' },
      { header: 'p50', align: 'right' }, { header: 'p99', align: 'right' }, { header: 'p50 vs Linux (lower is faster)', align: 'right' },
    ],
    rows: rows.map((r) => [r.setup, r.port, fmt(r.mean, 1), fmt(r.p50, 1), fmt(r.p99, 1), ratio(r.p50, base)]),
  };
}

const START = '<!-- bench:ustack:start -->';
const END = '<!-- bench:ustack:end -->';

function section(tables: Table[], mptcp: MptcpReport): string {
  const m = machineInfo(REPO);
  return [
    START,
    '## braid-ustack vs Linux TCP',
    '',
    '<!-- Generated by `npm run bench:ustack` (test/bench/ustack.ts); rerun it instead of editing. -->',
    '',
    `Run ${m.date} on ${m.cpu} (nproc ${m.nproc}), kernel ${m.kernel}, braid ${m.braid}.`,
    '',
    'One veth pair between two namespaces the benchmark creates. Linux rows use the kernel\'s TCP on',
    `both ends (${LINUX} -> ${KERNEL_PEER}); af_packet rows put braid-ustack on the same veth end`,
    `(net_af_packet, ${STACK}); memif rows join two braid-ustack processes with net_memif`,
    '(`socket-abstract=no`, no hugepages). braid-ustack busy-polls pinned to CPU 1, the Linux programs',
    'run on CPU 0. Throughput: socat moving zeros (`-b 131072`) or braid-ustack source/sink',
    '(`--no-hash`); Linux-client rows time the socat client, braid-ustack-client rows report the',
    'connection time. Latency: one connection, a request and its echo per round; the Linux client is a',
    'small Node.js program (its event loop is part of every row it appears in), Linux\'s echo server',
    'socat with `PIPE`. Ratios compare with the first row of each table, measured in the same run.',
    '',
    ...tables.flatMap((t) => [`### ${t.title}`, '', renderMarkdown(t), '']),
    '## braid-ustack MPTCP over two shaped paths',
    '',
    '<!-- Generated by `npm run bench:ustack` (test/bench/ustack-mptcp.ts); rerun it instead of editing. -->',
    '',
    ...mptcp.text,
    '',
    ...mptcp.tables.flatMap((t) => [`### ${t.title}`, '', renderMarkdown(t), '']),
    END,
  ].join('\n');
}

function writeDoc(body: string): void {
  const old = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# ustack benchmarks\n\n' + `${START}\n${END}\n`;
  const s = old.indexOf(START);
  const e = old.indexOf(END);
  const next = s >= 0 && e > s ? old.slice(0, s) + body + old.slice(e + END.length) : `${old.trimEnd()}\n\n${body}\n`;
  writeFileSync(DOC, next);
}

async function main(): Promise<void> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} missing: cmake -S . -B build/ctest && cmake --build build/ctest`);
  const b = await makeBed();
  try {
    const tput: ThroughputRow[] = [
      { setup: 'Linux socat -> Linux socat', port: 'kernel veth', bytes: 2048 * MiB, seconds: [] },
      { setup: 'Linux socat -> ustack sink', port: 'af_packet', bytes: 512 * MiB, seconds: [] },
      { setup: 'ustack source -> Linux socat', port: 'af_packet', bytes: 512 * MiB, seconds: [] },
      { setup: 'ustack source -> ustack sink', port: 'memif', bytes: 2048 * MiB, seconds: [] },
    ];
    const runs = [linuxBaseline, linuxToUstack, ustackToLinux, ustackMemif];
    for (let i = 0; i < REPEATS; i++) {
      for (const [k, row] of tput.entries()) {
        progress(`throughput ${i + 1}/${REPEATS}: ${row.setup} (${row.port})`);
        row.seconds.push(await runs[k]!(b, row.bytes));
      }
    }
    const lat = await latencyRows(b);
    const tables = [throughputTable(tput), latencyTable(lat)];
    for (const t of tables) process.stdout.write(`${renderText(t)}\n\n`);
    // Its own namespaces (two shaped paths); this bed's are idle meanwhile.
    const mptcp = await mptcpBench();
    for (const t of mptcp.tables) process.stdout.write(`${renderText(t)}\n\n`);
    writeDoc(section(tables, mptcp));
    progress(`wrote ${path.relative(REPO, DOC)}`);
  } finally {
    await killNetnsProcesses([b.linux, b.stack], 2000);
    await deleteNetns([b.linux, b.stack]);
    rmSync(b.memifSock, { force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ustack: ${(err as Error).message}\n`);
  process.exit(1);
});
