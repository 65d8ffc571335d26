// What the braid-ustack interop tests share: the binary, the addresses of the veth they build,
// running commands, hashing files, braid-ustack as a child process, Linux's MPTcpExt counters and
// the tshark check of captures.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
export const BINARY = path.join(ROOT, 'build/ctest/native/ustack/braid-ustack');
/** Linux's side of interop runs: a kernel MPTCP endpoint reporting MPTCP_FULL_INFO (native/testtools). */
export const MPTCP_PEER = path.join(ROOT, 'build/ctest/mptcp-peer');
export const LINUX_V4 = '198.18.0.1';
export const STACK_V4 = '198.18.0.2';
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

// ---- braid-ustack as a child process, Linux's MPTCP counters, capture checks (MPTCP tests) ----

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

/** braid-ustack in `ns` with `args`: stdout collected, JSON lines parsed. */
export class UstackProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(ns: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, BINARY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  /** A counter line `mptcp NAME=V` printed at exit (0 when absent). */
  counter(name: string): number {
    return Number(this.stdout.match(new RegExp(`^mptcp ${name}=(\\d+)$`, 'm'))?.[1] ?? '0');
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

/** Linux's MPTcpExt counters in `ns` (per namespace), by name without the prefix. */
export async function mptcpExt(ns: string): Promise<Map<string, number>> {
  const text = await must(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/netstat']);
  const [head, values] = text.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
  assert.ok(head !== undefined && values !== undefined, `no MPTcpExt in /proc/net/netstat of ${ns}`);
  const names = head.split(/\s+/).slice(1);
  const vals = values.split(/\s+/).slice(1);
  return new Map(names.map((n, i) => [n, Number(vals[i])]));
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

export interface CaptureCheck {
  ports: number[];        // TCP ports decoded as plain data (not guessed as another protocol)
  linuxAddrs: string[];   // Linux's addresses: its 0xffff TCP checksums are tolerated
  stackAddrs: string[];   // braid-ustack's addresses: its DSS mappings are counted
  minFrames?: number;
}

/**
 * tshark with MPTCP analysis (mptcp.analyze_mptcp, mptcp.analyze_mappings) over `pcap`: no
 * malformed frame, no bad IP/TCP checksum, no expert error. Returns how many of our frames carry a
 * DSS mapping.
 */
export async function checkMptcpCapture(pcap: string, c: CaptureCheck): Promise<number> {
  const asData = c.ports.flatMap((p) => ['-d', `tcp.port==${p},data`]);
  const tshark = ['tshark', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
    '-o', 'mptcp.analyze_mptcp:TRUE', '-o', 'mptcp.analyze_mappings:TRUE', ...asData];
  const frames = Number((await must(['capinfos', '-c', '-M', pcap])).match(/Number of packets:\s*(\d+)/)?.[1] ?? '0');
  assert.ok(frames >= (c.minFrames ?? 1000), `capture ${pcap} holds only ${frames} frames`);
  // Linux's skb_checksum_help writes a zero TCP checksum as 0xffff, which Wireshark calls an error:
  // tolerated in Linux's frames only.
  const linuxFfff = `tcp.checksum.ffff && (${c.linuxAddrs.map((a) => `ip.src == ${a}`).join(' || ')})`;
  const filter = `_ws.malformed || ip.checksum.status == 0 || ` +
    `((_ws.expert.severity >= error || tcp.checksum.status == 0) && !(${linuxFfff}))`;
  const bad = await must([...tshark, '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src',
    '-e', '_ws.expert.message'], 180_000);
  const lines = bad.trim() === '' ? [] : bad.trim().split('\n');
  assert.equal(lines.length, 0, `tshark flags ${lines.length} frames of ${pcap}:\n${lines.slice(0, 20).join('\n')}`);
  const ours = c.stackAddrs.map((a) => `ip.src == ${a}`).join(' || ');
  return (await must([...tshark, '-Y', `tcp.options.mptcp.rawdataseqno && (${ours})`, '-T', 'fields', '-e', 'frame.number'], 180_000))
    .split('\n').filter((l) => l.trim() !== '').length;
}
