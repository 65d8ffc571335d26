// The MPTCP part of `npm run bench:ustack`: braid-ustack's MPTCP over two shaped paths against its
// own plain TCP on one path and against Linux's kernel MPTCP/TCP on the very same veths. Bulk
// throughput (braid-ustack source or mptcp-peer --send -> mptcp-peer sink) and 64-byte
// request/response latency (braid-ustack rr or a Node.js client -> mptcp-peer --echo). Asserts
// nothing about speed; it fails when something cannot run, and when an MPTCP row did not carry
// data on both paths (then it would not measure what its name says).
//
// Topology: two veth pairs between a Linux namespace (ul0 198.18.0.1, ul1 198.18.1.1: the servers)
// and a sender namespace (us0, us1). There braid-ustack owns 198.18.x.2 through net_af_packet and the
// kernel owns 198.18.x.3 for the Linux-sender rows. Every veth end's egress (both directions, both
// paths) is shaped by tbf to 100 Mbit/s; braid-ustack's af_packet ports pass `qdisc_bypass=0`, or
// DPDK's default PACKET_QDISC_BYPASS would send around the shaper.
//
// MPTCP path management, the same for both senders: Linux (the server) announces 198.18.1.1 with a
// `signal` endpoint; the sender joins it from its second interface (Linux client: add_addr_accepted 1;
// braid-ustack: --no-subflow-path 1, so it does not also join 198.18.0.1 from there). One subflow per
// path.
//
// Placement on the 2-core machine: senders (braid-ustack busy-polling, or the Linux client) pinned to
// CPU 1, Linux servers to CPU 0.
import { spawn } from 'node:child_process';
import { extraNsName } from '../../src/testbed';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';
import { fmt, ratio, type Table } from './table';
import { inNs, median, MiB, MPTCP_PEER, must, NODE_RR, progress, timed, Ustack, type UstackLine } from './ustack-proc';

const BYTES = 64 * MiB;
const REPEATS = 3;
const RR_ROUNDS = 5000;
const RR_SIZE = 64;
const RATE = '100mbit';
const TBF = ['tbf', 'rate', RATE, 'burst', '64k', 'latency', '20ms'];
const LINUX = ['198.18.0.1', '198.18.1.1'];   // Linux servers (ul0, ul1)
const STACK = ['198.18.0.2', '198.18.1.2'];   // braid-ustack (us0, us1, net_af_packet)
const KERNEL = ['198.18.0.3', '198.18.1.3'];  // the kernel on us0, us1 (Linux-sender rows)
const SERVER_CPU = 0;
const SENDER_CPU = 1;

interface Bed {
  linux: string;
  stack: string;
}

let nextPort = 7800;  // a fresh port per server: no TIME_WAIT or late segment of a previous run

// ---- running one case ----

interface PeerResult {
  mptcp: boolean;
  bytes_in: number;
  max_subflows: number;
  subflows: { local: string; remote: string; bytes_sent: number; bytes_received: number }[];
}

/** mptcp-peer as the one-connection server in Linux's namespace; `done` is its result line. */
async function linuxServer(b: Bed, tcp: boolean, echo: boolean): Promise<{ port: number; done: Promise<PeerResult>; kill: () => void }> {
  const port = nextPort++;
  const argv = inNs(b.linux, SERVER_CPU, [MPTCP_PEER, '--listen', String(port), '--bind', '0.0.0.0',
    ...(tcp ? ['--tcp'] : []), ...(echo ? ['--echo'] : [])]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<PeerResult>((resolve, reject) => child.on('exit', (code) => {
    const line = out.split('\n').find((l) => l.includes('"event":"result"'));
    if (code !== 0 || line === undefined) reject(new Error(`mptcp-peer server on ${port} exited ${code}: ${err.trim()}`));
    else resolve(JSON.parse(line) as PeerResult);
  }));
  done.catch(() => undefined);  // awaited by the caller; not an unhandled rejection meanwhile
  const kill = (): void => void (child.exitCode === null && child.kill('SIGTERM'));
  for (let tries = 0; !out.includes('"listening"'); ++tries) {
    if (tries > 200 || child.exitCode !== null) {
      kill();
      throw new Error(`mptcp-peer does not listen on ${port}: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, done, kill };
}

/** braid-ustack's arguments: MPTCP on both interfaces, or plain TCP on us0 only. */
function ustackArgs(mptcp: boolean): string[] {
  const port = (i: number): string[] => ['--vdev', `net_af_packet${i},iface=us${i},qdisc_bypass=0`, '--ip', `${STACK[i]}/24`,
    // The gateway keeps a subflow to an address of the other subnet on its own interface.
    ...(mptcp ? ['--gw', LINUX[i]!] : [])];
  return mptcp ? ['--mptcp', ...port(0), ...port(1), '--no-subflow-path', '1'] : port(0);
}

/** tbf drops on the sender's egress (us0 + us1) so far. */
async function senderDrops(b: Bed): Promise<number> {
  let sum = 0;
  for (const dev of ['us0', 'us1']) {
    const q = JSON.parse(await must(['ip', 'netns', 'exec', b.stack, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', dev])) as { kind: string; drops: number }[];
    sum += q.find((x) => x.kind === 'tbf')?.drops ?? 0;
  }
  return sum;
}

/** Bytes of each path, by the local address they left from ("198.18.1.2:4711" -> path 1). */
function split(flows: { local: string; bytes: number }[]): number[] {
  const per = [0, 0];
  for (const f of flows) {
    const i = [...STACK, ...KERNEL, ...LINUX].findIndex((a) => f.local.startsWith(`${a}:`)) % 2;
    if (i >= 0) per[i]! += f.bytes;
  }
  return per;
}

function requireBothPaths(what: string, per: number[], detail: unknown): void {
  if (!(per[0]! > 0 && per[1]! > 0)) {
    throw new Error(`${what}: MPTCP did not carry data on both paths (${per.join(' / ')} bytes): ${JSON.stringify(detail)}`);
  }
}

interface BulkRun {
  seconds: number;
  perPath: number[];  // payload bytes per path, as the sending (ustack) or receiving (Linux) stack counts them
  drops: number;
  retrans?: number;   // braid-ustack's RetransSegs
}

async function ustackBulk(b: Bed, mptcp: boolean): Promise<BulkRun> {
  const server = await linuxServer(b, !mptcp, false);
  try {
    const drops0 = await senderDrops(b);
    const src = new Ustack(b.stack, [...ustackArgs(mptcp), '--mode', 'source', '--connect', `${LINUX[0]}:${server.port}`,
      '--bytes', String(BYTES), '--no-hash'], SENDER_CPU);
    const r = await src.result();
    const peer = await server.done;
    if (peer.bytes_in !== BYTES) throw new Error(`Linux received ${peer.bytes_in} of ${BYTES} bytes from braid-ustack`);
    const perPath = mptcp ? split((r.paths ?? []).map((p) => ({ local: p.local, bytes: p.bytes_sent }))) : [BYTES, 0];
    if (mptcp) requireBothPaths('braid-ustack source', perPath, r);
    return { seconds: r.seconds!, perPath, drops: (await senderDrops(b)) - drops0, retrans: src.counter('RetransSegs') };
  } finally {
    server.kill();
  }
}

async function linuxBulk(b: Bed, mptcp: boolean): Promise<BulkRun> {
  const server = await linuxServer(b, !mptcp, false);
  try {
    const drops0 = await senderDrops(b);
    const seconds = await timed(inNs(b.stack, SENDER_CPU, [MPTCP_PEER, '--connect', `${LINUX[0]}:${server.port}`,
      '--send', String(BYTES), ...(mptcp ? [] : ['--tcp'])]));
    const peer = await server.done;
    if (peer.bytes_in !== BYTES) throw new Error(`Linux received ${peer.bytes_in} of ${BYTES} bytes from Linux`);
    const perPath = mptcp ? split(peer.subflows.map((f) => ({ local: f.local, bytes: f.bytes_received }))) : [BYTES, 0];
    if (mptcp) requireBothPaths('Linux mptcp-peer sender', perPath, peer);
    return { seconds, perPath, drops: (await senderDrops(b)) - drops0 };
  } finally {
    server.kill();
  }
}

interface LatencyRun {
  mean: number;
  p50: number;
  p99: number;
  perPath: number[] | undefined;
}

async function ustackRr(b: Bed, mptcp: boolean, scheduler?: string): Promise<LatencyRun> {
  const server = await linuxServer(b, !mptcp, true);
  try {
    const r: UstackLine = await new Ustack(b.stack, [...ustackArgs(mptcp), ...(scheduler ? ['--scheduler', scheduler] : []),
      '--mode', 'rr', '--connect', `${LINUX[0]}:${server.port}`, '--count', String(RR_ROUNDS), '--size', String(RR_SIZE)],
    SENDER_CPU).result();
    const peer = await server.done;
    const perPath = mptcp ? split(peer.subflows.map((f) => ({ local: f.local, bytes: f.bytes_received }))) : undefined;
    return { mean: r.mean_us ?? NaN, p50: r.p50_us ?? NaN, p99: r.p99_us ?? NaN, perPath };
  } finally {
    server.kill();
  }
}

async function linuxRr(b: Bed, mptcp: boolean): Promise<LatencyRun> {
  const server = await linuxServer(b, !mptcp, true);
  try {
    // mptcpize: the Node.js client's socket() becomes IPPROTO_MPTCP (LD_PRELOAD).
    const out = await must(inNs(b.stack, SENDER_CPU, [...(mptcp ? ['mptcpize', 'run'] : []), process.execPath, '-e', NODE_RR,
      LINUX[0]!, String(server.port), String(RR_SIZE), String(RR_ROUNDS)]));
    const r = JSON.parse(out) as { mean_us: number; p50_us: number; p99_us: number };
    const peer = await server.done;
    if (mptcp && !peer.mptcp) throw new Error(`mptcpize node: the connection was not MPTCP: ${JSON.stringify(peer)}`);
    const perPath = mptcp ? split(peer.subflows.map((f) => ({ local: f.local, bytes: f.bytes_received }))) : undefined;
    return { mean: r.mean_us, p50: r.p50_us, p99: r.p99_us, perPath };
  } finally {
    server.kill();
  }
}

// ---- the bed ----

async function makeBed(): Promise<Bed> {
  const prefix = makePrefix();
  const b: Bed = { linux: extraNsName(prefix, 'mplinux'), stack: extraNsName(prefix, 'mpstack') };
  await must(['ip', 'netns', 'add', b.linux]);
  await must(['ip', 'netns', 'add', b.stack]);
  for (const ns of [b.linux, b.stack]) {
    // MPTCP is per namespace: on in the ones we made, whatever the host has.
    await must(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
    await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  for (const i of [0, 1]) {
    await must(['ip', '-n', b.linux, 'link', 'add', `ul${i}`, 'type', 'veth', 'peer', 'name', `us${i}`, 'netns', b.stack]);
    await must(['ip', '-n', b.linux, 'addr', 'add', `${LINUX[i]}/24`, 'dev', `ul${i}`]);
    await must(['ip', '-n', b.linux, 'link', 'set', `ul${i}`, 'up']);
    // The kernel would leave TX checksums to the "NIC", which braid-ustack does not check for it.
    await must(['ip', 'netns', 'exec', b.linux, 'ethtool', '-K', `ul${i}`, 'tx', 'off']);
    await must(['ip', 'netns', 'exec', b.stack, 'sysctl', '-qw', `net.ipv6.conf.us${i}.disable_ipv6=1`]);
    await must(['ip', '-n', b.stack, 'addr', 'add', `${KERNEL[i]}/24`, 'dev', `us${i}`]);
    await must(['ip', '-n', b.stack, 'link', 'set', `us${i}`, 'up']);
    await must(['ip', 'netns', 'exec', b.linux, 'tc', 'qdisc', 'add', 'dev', `ul${i}`, 'root', ...TBF]);
    await must(['ip', 'netns', 'exec', b.stack, 'tc', 'qdisc', 'add', 'dev', `us${i}`, 'root', ...TBF]);
  }
  await must(['ip', 'netns', 'exec', b.linux, 'ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '0']);
  await must(['ip', 'netns', 'exec', b.linux, 'ip', 'mptcp', 'endpoint', 'add', LINUX[1]!, 'dev', 'ul1', 'signal']);
  await must(['ip', 'netns', 'exec', b.stack, 'ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '1']);
  return b;
}

// ---- the report ----

interface BulkRow {
  setup: string;
  paths: number;
  run: (b: Bed) => Promise<BulkRun>;
  runs: BulkRun[];
}

interface LatencyRow {
  setup: string;
  paths: number;
  run: (b: Bed) => Promise<LatencyRun>;
  result?: LatencyRun;
}

const pct = (per: number[] | undefined): string => {
  if (per === undefined) return '—';
  const total = per[0]! + per[1]!;
  return total === 0 ? '—' : `${Math.round((100 * per[0]!) / total)} / ${Math.round((100 * per[1]!) / total)}`;
};

const mbps = (r: BulkRow): number => (BYTES * 8) / median(r.runs.map((x) => x.seconds)) / 1e6;
/** The run whose time is the median one (its split and drops go in the table). */
const medianRun = (r: BulkRow): BulkRun => {
  const m = median(r.runs.map((x) => x.seconds));
  return r.runs.find((x) => x.seconds === m)!;
};

function bulkTable(rows: BulkRow[]): Table {
  return {
    title: `MPTCP bulk throughput, one connection, ${BYTES / MiB} MiB, ${RATE} tbf per path (median of ${REPEATS})`,
    columns: [
      { header: 'setup', align: 'left' }, { header: 'paths', align: 'right' }, { header: 'Mbit/s', align: 'right' },
      { header: 'runs (s)', align: 'left' }, { header: 'path 0 / 1 (%)', align: 'right' },
      { header: 'tbf drops', align: 'right' }, { header: 'ustack retrans', align: 'right' },
    ],
    rows: rows.map((r) => {
      const m = medianRun(r);
      return [r.setup, String(r.paths), fmt(mbps(r), 1), r.runs.map((x) => x.seconds.toFixed(3)).join(' '), pct(m.perPath),
        String(m.drops), m.retrans === undefined ? '—' : String(m.retrans)];
    }),
  };
}

function latencyTable(rows: LatencyRow[]): Table {
  const base = rows[0]?.result?.p50;
  return {
    title: `MPTCP request/response latency, ${RR_SIZE}-byte ping-pong, ${RR_ROUNDS} rounds (µs per round trip)`,
    columns: [
      { header: 'setup', align: 'left' }, { header: 'paths', align: 'right' }, { header: 'mean', align: 'right' },
      { header: 'p50', align: 'right' }, { header: 'p99', align: 'right' }, { header: 'path 0 / 1 (%)', align: 'right' },
      { header: `p50 vs ${rows[0]?.setup ?? ''}`, align: 'right' },
    ],
    rows: rows.map((r) => [r.setup, String(r.paths), fmt(r.result?.mean, 1), fmt(r.result?.p50, 1), fmt(r.result?.p99, 1),
      pct(r.result?.perPath), ratio(r.result?.p50, base)]),
  };
}

function ratioTable(bulk: BulkRow[], lat: LatencyRow[]): Table {
  const [uMp, uTcp, lMp, lTcp] = bulk.map(mbps);
  const [rTcp, rMp, , rLTcp, rLMp] = lat.map((r) => r.result);
  return {
    title: 'MPTCP ratios (same run)',
    columns: [{ header: 'comparison', align: 'left' }, { header: 'measured', align: 'right' }, { header: 'claimed', align: 'left' }],
    rows: [
      ['throughput: ustack MPTCP (2 paths) / ustack TCP (1 path)', ratio(uMp, uTcp), '> 2x (seed article)'],
      ['throughput: ustack MPTCP / Linux MPTCP (2 paths each)', ratio(uMp, lMp), ''],
      ['throughput: Linux MPTCP (2 paths) / Linux TCP (1 path)', ratio(lMp, lTcp), ''],
      ['p50 latency: ustack MPTCP (minrtt) / ustack TCP', ratio(rMp?.p50, rTcp?.p50), '~0.9x (seed article)'],
      ['p99 latency: ustack MPTCP (minrtt) / ustack TCP', ratio(rMp?.p99, rTcp?.p99), ''],
      ['p50 latency: ustack MPTCP (minrtt) / Linux MPTCP (Node.js client)', ratio(rMp?.p50, rLMp?.p50), ''],
      ['p50 latency: Linux MPTCP / Linux TCP (Node.js client)', ratio(rLMp?.p50, rLTcp?.p50), ''],
    ],
  };
}

export interface MptcpReport {
  tables: Table[];
  /** Markdown paragraphs describing the setup, for the doc (before the tables). */
  text: string[];
}

export async function mptcpBench(): Promise<MptcpReport> {
  const b = await makeBed();
  try {
    const bulk: BulkRow[] = [
      { setup: 'ustack MPTCP source -> Linux MPTCP sink', paths: 2, run: (x) => ustackBulk(x, true), runs: [] },
      { setup: 'ustack TCP source -> Linux TCP sink', paths: 1, run: (x) => ustackBulk(x, false), runs: [] },
      { setup: 'Linux MPTCP -> Linux MPTCP (mptcp-peer)', paths: 2, run: (x) => linuxBulk(x, true), runs: [] },
      { setup: 'Linux TCP -> Linux TCP (mptcp-peer --tcp)', paths: 1, run: (x) => linuxBulk(x, false), runs: [] },
    ];
    for (let i = 0; i < REPEATS; i++) {
      for (const row of bulk) {
        progress(`mptcp throughput ${i + 1}/${REPEATS}: ${row.setup}`);
        row.runs.push(await row.run(b));
      }
    }
    const lat: LatencyRow[] = [
      { setup: 'ustack rr TCP -> Linux echo', paths: 1, run: (x) => ustackRr(x, false) },
      { setup: 'ustack rr MPTCP (minrtt) -> Linux echo', paths: 2, run: (x) => ustackRr(x, true) },
      { setup: 'ustack rr MPTCP (redundant) -> Linux echo', paths: 2, run: (x) => ustackRr(x, true, 'redundant') },
      { setup: 'Linux TCP client (Node.js) -> Linux echo', paths: 1, run: (x) => linuxRr(x, false) },
      { setup: 'Linux MPTCP client (mptcpize Node.js) -> Linux echo', paths: 2, run: (x) => linuxRr(x, true) },
    ];
    for (const row of lat) {
      progress(`mptcp latency: ${row.setup}`);
      row.result = await row.run(b);
    }
    return { tables: [bulkTable(bulk), latencyTable(lat), ratioTable(bulk, lat)], text: describe() };
  } finally {
    await killNetnsProcesses([b.linux, b.stack], 2000);
    await deleteNetns([b.linux, b.stack]);
  }
}

function describe(): string[] {
  return [
    `Two veth pairs (two paths, ${LINUX[0]}/24 and ${LINUX[1]}/24) between a Linux server namespace and`,
    'a sender namespace, in which braid-ustack owns 198.18.x.2 (net_af_packet, one DPDK port per path,',
    '`qdisc_bypass=0` so its frames go through the shaper) and the kernel owns 198.18.x.3 for the',
    `Linux-sender rows. Every veth end's egress, both directions on both paths, is shaped with`,
    `\`tc qdisc add ... root ${TBF.join(' ')}\`. This machine has no netem (only tbf, htb, fifo and`,
    'ingress qdiscs), so the paths have **no added delay and no added loss**: a round trip is a few',
    'tens of µs of CPU, and the only losses are tbf drops when a sender overfills the 20 ms queue.',
    '',
    `The server is always Linux: \`mptcp-peer\` (native/testtools) reading to end of stream, or`,
    '`--echo`, pinned to CPU 0. The sender is pinned to CPU 1: braid-ustack (`--busy-poll`; source',
    `\`--bytes ${BYTES} --no-hash\`, rr \`--count ${RR_ROUNDS} --size ${RR_SIZE}\`), \`mptcp-peer --send\`, or a small`,
    'Node.js ping-pong client (run under `mptcpize` for MPTCP). MPTCP path management is the same for',
    `both senders: Linux announces ${LINUX[1]} (in-kernel PM, \`signal\` endpoint, subflows limit 2) and`,
    'the sender joins it from its second interface (Linux client: `add_addr_accepted 1`; braid-ustack',
    '`--no-subflow-path 1`), one subflow per path. An MPTCP bulk row that did not carry data on both',
    'paths fails the benchmark. "path 0 / 1" is the payload split as the sending braid-ustack ("paths")',
    'or the receiving Linux (MPTCP_FULL_INFO) counts it, for the median run. braid-ustack rows report',
    'the connection time; Linux rows time `mptcp-peer --send` from spawn to exit (a few ms more,',
    'including its SHA-256 of the stream). "tbf drops" are the sender-side shaper drops in that run.',
    '',
    'What limits the figures: throughput is capped by the shaper (two paths can at most double one',
    `path's ${RATE}, so "more than 2x" cannot show here); latency, with no delay on the paths, is`,
    'CPU and scheduling on two shared cores (p99 especially), and the Node.js client\'s event loop is',
    'most of the Linux rows. One run each: figures move by several percent between runs.',
    '',
    'Known artefact in the braid-ustack bulk rows: each run ends with one RTO (about 0.24 s, 4% of a',
    'one-path run and 8% of a two-path one) and "ustack retrans" of about 50 segments although tbf',
    'dropped nothing and Linux counts them as duplicates (TCPDSACKOldSent). The capture shows the last',
    'segments reaching Linux only when the RTO sends again: with a qdisc in the way, the kernel leaves',
    "frames in net_af_packet's TX ring once the qdisc holds the socket's send buffer, and sends them",
    "only at the driver's next sendto() kick (its next transmit burst); a sender with nothing more to",
    'send has no next burst until its RTO. (An empty `rte_eth_tx_burst` does not kick in DPDK 22.11.)',
  ];
}
