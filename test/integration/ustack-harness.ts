// What the braid-ustack interop tests share: the binary, the addresses of the veth they build,
// running commands, hashing files, braid-ustack as a child process, Linux's netstat counters (TcpExt,
// MPTcpExt) and the tshark check of captures.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { extraNsName } from '../../src/testbed';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
export const BINARY = path.join(ROOT, 'build/ctest/native/ustack/braid-ustack');
/** Linux's side of interop runs: a kernel MPTCP endpoint reporting MPTCP_FULL_INFO (native/testtools). */
export const MPTCP_PEER = path.join(ROOT, 'build/ctest/mptcp-peer');
export const LINUX_V4 = '198.18.0.1';
export const STACK_V4 = '198.18.0.2';
export const LINUX_V6 = '2001:2:0:ff::1';
export const STACK_V6 = '2001:2:0:ff::2';
export const SIZE = 64 * 1024 * 1024;

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function sh(argv: string[], timeout = 60_000): Promise<ShResult> {
  try {
    const r = await run(argv[0]!, argv.slice(1), { timeout, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

export async function must(argv: string[], timeout = 60_000): Promise<string> {
  const r = await sh(argv, timeout);
  assert.equal(r.code, 0, `\`${argv.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Runs `body` with one new network namespace per role (names unique to this run, in `roles` order)
 * and a new temporary directory; afterwards, also when `body` throws, every process in those
 * namespaces is killed and the namespaces and the directory are removed.
 */
export async function withNamespaces(roles: string[], dirPrefix: string,
  body: (ns: string[], dir: string) => Promise<void>): Promise<void> {
  const prefix = makePrefix();
  const ns = roles.map((r) => extraNsName(prefix, r));
  const dir = mkdtempSync(path.join(tmpdir(), dirPrefix));
  try {
    for (const n of ns) await must(['ip', 'netns', 'add', n]);
    await body(ns, dir);
  } finally {
    await killNetnsProcesses(ns, 2000);
    await deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A veth pair, one path of the interop tests: `ul<i>` in `linuxNs` with `linuxAddrs` (CIDRs; IPv6
 * ones without DAD) and `us<i>` in `stackNs` for braid-ustack (no kernel address, IPv6 off, so
 * only braid-ustack answers), both up, and lo up in Linux's namespace. Linux computes its TX
 * checksums (the kernel would leave them to the "NIC": DESIGN.md, DPDK facts). Each end receives on
 * one CPU (RPS): veth hands a frame to the backlog of the CPU that sent it, and Linux sends from
 * its application's CPU and (ACK-clocked) from braid-ustack's, so without it a stream arrives
 * reordered; with it, in order, as on a wire.
 */
export async function vethPath(linuxNs: string, stackNs: string, i: number, linuxAddrs: string[]): Promise<void> {
  const [ul, us] = [`ul${i}`, `us${i}`];
  await must(['ip', '-n', linuxNs, 'link', 'set', 'lo', 'up']);
  await must(['ip', '-n', linuxNs, 'link', 'add', ul, 'type', 'veth', 'peer', 'name', us, 'netns', stackNs]);
  for (const a of linuxAddrs) {
    await must(['ip', '-n', linuxNs, 'addr', 'add', a, 'dev', ul, ...(a.includes(':') ? ['nodad'] : [])]);
  }
  await must(['ip', '-n', linuxNs, 'link', 'set', ul, 'up']);
  await must(['ip', 'netns', 'exec', linuxNs, 'ethtool', '-K', ul, 'tx', 'off']);
  await must(['ip', 'netns', 'exec', stackNs, 'sysctl', '-qw', `net.ipv6.conf.${us}.disable_ipv6=1`]);
  await must(['ip', '-n', stackNs, 'link', 'set', us, 'up']);
  await must(['ip', 'netns', 'exec', stackNs, 'sh', '-c', `echo 1 > /sys/class/net/${us}/queues/rx-0/rps_cpus`]);
  await must(['ip', 'netns', 'exec', linuxNs, 'sh', '-c', `echo 1 > /sys/class/net/${ul}/queues/rx-0/rps_cpus`]);
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** `size` (SIZE unless told) random bytes in `dir`/input.bin, and their sha256. */
export function makeInput(dir: string, size = SIZE): { input: string; inputSha: string } {
  const input = path.join(dir, 'input.bin');
  const data = randomBytes(size);
  writeFileSync(input, data);
  return { input, inputSha: createHash('sha256').update(data).digest('hex') };
}

// ---- braid-ustack as a child process, Linux's netstat counters ----

export interface SubflowLine {
  id: number;
  local: string;
  remote: string;
  local_id: number;
  remote_id: number;
  backup: boolean;
  established: boolean;
  bytes_sent: number;
  bytes_received: number;
}

/** mptcp-peer's result line: what the Linux kernel itself said about the connection. */
export interface PeerResult {
  mptcp: boolean;
  bytes_in: number;
  sha256_in: string;
  sha256_out: string;
  bytes_out: number;
  max_subflows: number;
  subflows: { id: number; local: string; remote: string; bytes_sent: number; bytes_received: number }[];
}

/** One JSON line of braid-ustack (tools/ustack_app.h). */
export interface AppLine {
  event: 'connection' | 'result' | 'summary' | 'link';
  bytes?: number;
  bytes_in?: number;
  bytes_out?: number;
  sha256?: string;
  mptcp?: boolean;
  subflows?: number;
  dss_checksums?: boolean;
  paths?: SubflowLine[];
  interface?: number;
  up?: boolean;
  error?: string;
}

/**
 * braid-ustack in `ns` with `args`: stdout collected, JSON lines parsed. With `waitStdin` it runs
 * with --wait-stdin: the application starts only at go(), once the test configured Linux's side.
 */
export class UstackProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(ns: string, args: string[], opts: { waitStdin?: boolean } = {}) {
    const argv = opts.waitStdin === true ? ['--wait-stdin', ...args] : args;
    this.child = spawn('ip', ['netns', 'exec', ns, BINARY, ...argv],
      { stdio: [opts.waitStdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/ ready$/m.test(this.stdout)) {
      if (this.child.exitCode !== null) assert.fail(`braid-ustack exited ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) assert.fail(`braid-ustack not ready after ${timeoutMs} ms: ${this.stdout}${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  lines(): AppLine[] {
    return this.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as AppLine);
  }

  async connection(index: number, timeoutMs = 60_000): Promise<AppLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const conns = this.lines().filter((l) => l.event === 'connection');
      if (conns.length > index) return conns[index]!;
      if (this.child.exitCode !== null) assert.fail(`braid-ustack exited ${this.child.exitCode}: ${this.stdout}${this.stderr}`);
      if (Date.now() > deadline) assert.fail(`no connection line #${index} after ${timeoutMs} ms: ${this.stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts the application of a process made with `waitStdin`. */
  go(): void {
    assert.ok(this.child.stdin !== null, 'braid-ustack was not started with waitStdin');
    this.child.stdin.end('go\n');
  }

  /** A counter line `mptcp NAME=V` printed at exit (0 when absent). */
  counter(name: string): number {
    return Number(this.stdout.match(new RegExp(`^mptcp ${name}=(\\d+)$`, 'm'))?.[1] ?? '0');
  }

  /**
   * Interface 0's exit line `KIND name=V name=V ...` (KIND `counters` or `driver`, always printed),
   * as a map; asserted to be there.
   */
  private ifaceLine(kind: 'counters' | 'driver'): Map<string, number> {
    const line = this.stdout.match(new RegExp(`^${kind}((?: \\w+=\\d+)+)$`, 'm'))?.[1];
    assert.ok(line !== undefined, `no '${kind}' line in braid-ustack's output: ${this.stdout}`);
    return new Map(line.trim().split(' ').map((kv) => {
      const [k, v] = kv.split('=');
      return [k!, Number(v)];
    }));
  }

  /** Interface 0's counter `name` (arp_replies, echo_replies, ...) from the exit line `counters ...`. */
  ifaceCounter(name: string): number {
    const v = this.ifaceLine('counters').get(name);
    assert.ok(v !== undefined, `no counter ${name} in braid-ustack's output: ${this.stdout}`);
    return v;
  }

  /** Frames the DPDK driver lost (RX ring full, errors), from the exit line `driver ...`. */
  driverDrops(): number {
    const d = this.ifaceLine('driver');
    return ['imissed', 'ierrors', 'oerrors', 'rx_nombuf'].reduce((a, k) => {
      assert.ok(d.has(k), `no driver counter ${k} in braid-ustack's output: ${this.stdout}`);
      return a + d.get(k)!;
    }, 0);
  }

  /** A client's result line, once it exited 0. */
  async result(): Promise<AppLine> {
    const code = await this.exited;
    const r = this.lines().find((l) => l.event === 'result');
    assert.ok(code === 0 && r !== undefined, `braid-ustack client failed (${code}): ${this.stdout}${this.stderr}`);
    return r;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Linux's counters of `group` in /proc/net/netstat of `ns` (per namespace), by name without the prefix. */
export async function netstat(ns: string, group: 'TcpExt' | 'MPTcpExt'): Promise<Map<string, number>> {
  const text = await must(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/netstat']);
  const [head, values] = text.split('\n').filter((l) => l.startsWith(`${group}:`));
  assert.ok(head !== undefined && values !== undefined, `no ${group} in /proc/net/netstat of ${ns}`);
  const names = head.split(/\s+/).slice(1);
  const vals = values.split(/\s+/).slice(1);
  return new Map(names.map((n, i) => [n, Number(vals[i])]));
}

/** Linux's MPTcpExt counters in `ns` (per namespace), by name without the prefix. */
export function mptcpExt(ns: string): Promise<Map<string, number>> {
  return netstat(ns, 'MPTcpExt');
}

// Linux MPTcpExt counters that must not move: each means a fallback, a protocol error, a failed
// HMAC or a dropped announcement.
export const BAD_MPTCP_COUNTERS = [
  'MPCapableFallbackACK', 'MPCapableFallbackSYNACK', 'MPCapableDataFallback', 'DssFallback', 'FallbackFailed',
  'DSSNotMatching', 'DSSNoMatchTCP', 'DSSCorruptionFallback', 'DSSCorruptionReset', 'InfiniteMapRx',
  'DataCsumErr', 'MPFailRx', 'MPFastcloseRx', 'MPRstRx',
  'MPJoinSynAckHMacFailure', 'MPJoinAckHMacFailure', 'AddAddrDrop',
];

/** Counter increases between two snapshots, with `bad` checked to be 0. */
export function mptcpDelta(before: Map<string, number>, after: Map<string, number>, what: string,
  bad: readonly string[] = BAD_MPTCP_COUNTERS): (name: string) => number {
  const d = (name: string): number => {
    assert.ok(after.has(name), `Linux has no MPTcpExt ${name}`);
    return after.get(name)! - (before.get(name) ?? 0);
  };
  for (const b of bad) assert.equal(d(b), 0, `${what}: Linux counted MPTcpExt${b}`);
  return d;
}

// ---- tshark's verdict on the captures braid-ustack writes ----

/** A display filter for frames sent from any of `addrs` (IPv4 or IPv6), in parentheses. */
export function fromAddrs(addrs: readonly string[]): string {
  return `(${addrs.map((a) => (a.includes(':') ? `ipv6.src == ${a}` : `ip.src == ${a}`)).join(' || ')})`;
}

/**
 * A display filter for malformed frames and frames with a bad IP or TCP checksum or an expert
 * error. Linux's skb_checksum_help writes a zero TCP checksum as 0xffff (RFC 1624 says both mean the
 * same), which Wireshark calls an error: tolerated in frames from `linuxAddrs` only, never in ours.
 */
export function tcpTrouble(linuxAddrs: readonly string[]): string {
  return `_ws.malformed || ip.checksum.status == 0 || ` +
    `((_ws.expert.severity >= error || tcp.checksum.status == 0) && !(tcp.checksum.ffff && ${fromAddrs(linuxAddrs)}))`;
}

export interface CaptureCheck {
  /** A display filter for the frames that must not be there. */
  bad: string;
  /** TCP ports decoded as plain data: random payload would be guessed as Thrift, ... and called malformed. */
  ports?: readonly number[];
  /** More tshark preferences, each `name:value`. */
  prefs?: readonly string[];
  /** With fewer frames the check would check nothing; 1000 unless told. */
  minFrames?: number;
  /** Shown with a failure. */
  context?: string;
}

/**
 * tshark over `pcap`, IP and TCP checksums checked: at least `minFrames` frames, none matching
 * `bad`. Returns the frame count and the tshark argv for further queries (tsharkFrames).
 */
export async function checkCapture(pcap: string, c: CaptureCheck): Promise<{ frames: number; tshark: string[] }> {
  const tshark = ['tshark', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
    ...(c.prefs ?? []).flatMap((p) => ['-o', p]), ...(c.ports ?? []).flatMap((p) => ['-d', `tcp.port==${p},data`])];
  const frames = Number((await must(['capinfos', '-c', '-M', pcap])).match(/Number of packets:\s*(\d+)/)?.[1] ?? '0');
  const min = c.minFrames ?? 1000;
  assert.ok(frames >= min, `capture ${pcap} holds only ${frames} frames (fewer than ${min})`);
  const bad = await tsharkFrames(tshark, c.bad,
    ['frame.number', 'ip.src', 'ipv6.src', 'tcp.checksum', 'tcp.checksum.status', '_ws.expert.message']);
  assert.equal(bad.length, 0, `tshark flags ${bad.length} frames of ${pcap}:\n${bad.slice(0, 20).join('\n')}` +
    (c.context === undefined ? '' : `\n${c.context}`));
  return { frames, tshark };
}

/** The frames of a capture (`tshark`: checkCapture's argv) matching `filter`, one line of `fields` each. */
export async function tsharkFrames(tshark: readonly string[], filter: string,
  fields: readonly string[] = ['frame.number']): Promise<string[]> {
  const out = await must([...tshark, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], 180_000);
  return out.trim() === '' ? [] : out.trim().split('\n');
}

export interface MptcpCaptureCheck {
  ports: number[];        // TCP ports decoded as plain data (not guessed as another protocol)
  linuxAddrs: string[];   // Linux's addresses: its 0xffff TCP checksums are tolerated
  stackAddrs: string[];   // braid-ustack's addresses: its DSS mappings are counted
  minFrames?: number;
}

/**
 * checkCapture with MPTCP analysis (mptcp.analyze_mptcp, mptcp.analyze_mappings) over `pcap`: no
 * malformed frame, no bad IP/TCP checksum, no expert error (tcpTrouble). Returns how many of our
 * frames carry a DSS mapping.
 */
export async function checkMptcpCapture(pcap: string, c: MptcpCaptureCheck): Promise<number> {
  const { tshark } = await checkCapture(pcap, {
    bad: tcpTrouble(c.linuxAddrs), ports: c.ports, minFrames: c.minFrames,
    prefs: ['mptcp.analyze_mptcp:TRUE', 'mptcp.analyze_mappings:TRUE'],
  });
  return (await tsharkFrames(tshark, `tcp.options.mptcp.rawdataseqno && ${fromAddrs(c.stackAddrs)}`)).length;
}
