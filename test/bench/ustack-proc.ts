// Running things for `npm run bench:ustack`: commands in namespaces pinned to a CPU, braid-ustack as a
// child process with its JSON lines, one-shot servers. Shared by ustack.ts (one veth) and
// ustack-mptcp.ts (two shaped paths).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO = path.resolve(__dirname, '../../..');
export const BINARY = path.join(REPO, 'build/ctest/native/ustack/braid-ustack');
export const MPTCP_PEER = path.join(REPO, 'build/ctest/mptcp-peer');
export const MiB = 1024 * 1024;

export const progress = (line: string): void => void process.stderr.write(`bench:ustack: ${line}\n`);

export async function must(argv: string[], timeout = 120_000): Promise<string> {
  try {
    return (await run(argv[0]!, argv.slice(1), { timeout, maxBuffer: 16 * MiB })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`\`${argv.join(' ')}\` failed: ${e.stderr?.trim() || e.message}`);
  }
}

export function inNs(ns: string, cpu: number, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, 'taskset', '-c', String(cpu), ...argv];
}

/** Seconds a command takes, wall clock, from spawn to exit. */
export async function timed(argv: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  await must(argv);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** One subflow in braid-ustack's "paths" (tools/ustack_app.cc). */
export interface UstackPath {
  local: string;
  remote: string;
  established: boolean;
  bytes_sent: number;
  bytes_received: number;
}

export interface UstackLine {
  event: string;
  seconds?: number;
  mean_us?: number;
  p50_us?: number;
  p99_us?: number;
  mptcp?: boolean;
  subflows?: number;
  paths?: UstackPath[];
  error?: string;
}

export class Ustack {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(ns: string, args: string[], cpu = 1) {
    this.child = spawn('ip', ['netns', 'exec', ns, 'taskset', '-c', String(cpu), BINARY, '--busy-poll', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!/ ready$/m.test(this.stdout)) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`braid-ustack did not start: ${this.stdout}${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  lines(event: string): UstackLine[] {
    return this.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as UstackLine)
      .filter((l) => l.event === event);
  }

  /** A TCP counter from the exit lines (`tcp RetransSegs=47`); 0 when not listed (zero). */
  counter(name: string): number {
    const m = `${this.stdout}\n${this.stderr}`.match(new RegExp(`^tcp ${name}=(\\d+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  }

  /** A client's result line once it exited. */
  async result(): Promise<UstackLine> {
    const code = await this.exited;
    const r = this.lines('result')[0];
    if (code !== 0 || r === undefined || r.error !== undefined) {
      throw new Error(`braid-ustack client failed (${code}): ${this.stdout}${this.stderr}`);
    }
    return r;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

export async function withServer<T>(start: () => ChildProcess | Ustack, ready: () => Promise<void>, body: () => Promise<T>): Promise<T> {
  const s = start();
  // Listen for the exit now: a one-shot socat server may be gone before the body returns.
  const exited = s instanceof Ustack ? s.exited : new Promise((r) => s.once('exit', r));
  try {
    await ready();
    return await body();
  } finally {
    if (s instanceof Ustack) s.child.kill('SIGTERM');
    else if (s.exitCode === null) s.kill('SIGTERM');
    await exited;
  }
}

export async function listening(ns: string, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await must(['ip', 'netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`])).trim() !== '') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port} in ${ns}`);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// The Linux request/response client: one connection, `rounds` round trips of `size` bytes.
// Arguments: host port size rounds.
export const NODE_RR = `
const net = require('node:net');
const [host, port, size, rounds] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const msg = Buffer.alloc(size, 7);
const lat = [];
const s = net.connect({ host, port, noDelay: true }, () => { t0 = process.hrtime.bigint(); s.write(msg); });
let t0 = 0n, got = 0;
s.on('data', (d) => {
  got += d.length;
  if (got < size) return;
  got -= size;
  const t = process.hrtime.bigint();
  lat.push(Number(t - t0) / 1000);
  if (lat.length === rounds) { s.end(); return; }
  t0 = t; s.write(msg);
});
s.on('close', () => {
  lat.sort((a, b) => a - b);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  console.log(JSON.stringify({ mean_us: mean, p50_us: lat[lat.length >> 1], p99_us: lat[Math.floor(lat.length * 0.99)] }));
});`;
