// A network-namespace test bed: N nodes joined by M paths, each path its own L2 segment.
// Two nodes get one veth pair per path; more nodes get one bridge per path in a hub namespace.
// Node i on path p has interface `p<p>` with 198.18.(p+1).(i+1)/24 and 2001:2:0:(p+1)::(i+1)/64.
// Used by the integration tests, the benchmark and `braid demo`; it shells out to ip, tc and
// ethtool, which is acceptable here and nowhere else in the product.
import { spawn as spawnChild, type ChildProcess, type StdioOptions } from 'node:child_process';
import { BraidError } from '../errors';
import { runCommand, runIpBatch } from './command';
import { registerForExit, unregisterForExit } from './exit-hooks';
import {
  hubBridgeName,
  hubNsName,
  hubPortName,
  makePrefix,
  nodeAddress,
  nodeNsName,
  pathIface,
  prefixLength,
} from './names';
import { deleteNetns, deleteNetnsSync, killNetnsProcesses, killNetnsProcessesSync, listNetns, signalAll } from './netns';

export interface TestbedOptions {
  /** Number of nodes, 2..250. */
  nodes: number;
  /** Number of paths (L2 segments), 1..250. */
  paths: number;
  /** Shape every path at creation, e.g. '100mbit' (tc rate syntax). */
  rate?: string;
  /** Add the IPv6 addresses (default true). */
  ipv6?: boolean;
  /** `ethtool -K IF tx off` on every interface: needed when a user-space stack reads the frames. */
  txChecksumOff?: boolean;
  /** How long destroy() lets processes react to SIGTERM before SIGKILL (default 2000 ms). */
  killGraceMs?: number;
}

export interface ExecOptions {
  /** Kill the program (SIGKILL) and reject after this long (default 10000 ms). */
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExecResult {
  /** Exit status, or null when the program died by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** Default ['ignore', 'pipe', 'pipe']: read or drain stdout/stderr, or pass 'ignore'. */
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Counters {
  txBytes: number;
  rxBytes: number;
}

const TBF_BURST = '64k';
const TBF_LATENCY = '20ms';
const DEFAULT_EXEC_TIMEOUT_MS = 10_000;
const DEFAULT_KILL_GRACE_MS = 2000;
const SYNC_KILL_GRACE_MS = 500; // in exit handlers nobody should wait long

function bedError(message: string): BraidError {
  return new BraidError('BRAID_TESTBED', `testbed: ${message}`);
}

function checkCount(what: string, n: unknown, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw bedError(`${what} must be an integer in ${min}..${max}, got ${String(n)}`);
  }
  return n;
}

const usedPrefixes = new Set<string>();

// A prefix no namespace on the host has and this process never used: teardown deletes
// every namespace under the prefix, so it must never match another bed's.
function freshPrefix(): string {
  const existing = listNetns();
  for (;;) {
    const prefix = makePrefix();
    if (usedPrefixes.has(prefix) || existing.some((n) => n.startsWith(`${prefix}-`))) continue;
    usedPrefixes.add(prefix);
    return prefix;
  }
}

export class Testbed {
  readonly prefix: string;
  readonly nodes: number;
  readonly paths: number;
  readonly ipv6: boolean;
  private readonly killGraceMs: number;
  private readonly children = new Set<ChildProcess>();
  private readonly shaped = new Map<number, string>();
  private destroying: Promise<void> | undefined;
  private destroyed = false;

  private constructor(opts: Required<Pick<TestbedOptions, 'nodes' | 'paths' | 'ipv6' | 'killGraceMs'>>) {
    this.prefix = freshPrefix();
    this.nodes = opts.nodes;
    this.paths = opts.paths;
    this.ipv6 = opts.ipv6;
    this.killGraceMs = opts.killGraceMs;
  }

  static async create(opts: TestbedOptions): Promise<Testbed> {
    if (process.getuid?.() !== 0) throw bedError('creating network namespaces needs root');
    const bed = new Testbed({
      nodes: checkCount('nodes', opts.nodes, 2, 250),
      paths: checkCount('paths', opts.paths, 1, 250),
      ipv6: opts.ipv6 ?? true,
      killGraceMs: opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    });
    // Registered before the first namespace exists, so a crash half-way still cleans up.
    registerForExit(bed);
    try {
      await bed.build(opts);
    } catch (err) {
      await bed.destroy().catch(() => undefined);
      throw err;
    }
    return bed;
  }

  /** Namespace name of node i, e.g. `bd2rkx7q-n0`. */
  nodeName(node: number): string {
    this.checkNode(node);
    return nodeNsName(this.prefix, node);
  }

  /** Address of node on path, without prefix length. */
  address(node: number, path: number, family: 4 | 6 = 4): string {
    this.checkNode(node);
    this.checkPath(path);
    if (family === 6 && !this.ipv6) throw bedError('this bed was created with ipv6: false');
    return nodeAddress(node, path, family);
  }

  /** Interface of a path inside every node: `p0`, `p1`, ... */
  iface(path: number): string {
    this.checkPath(path);
    return pathIface(path);
  }

  /** Every namespace of this bed (nodes, then the hub if any). */
  namespaces(): string[] {
    const names = Array.from({ length: this.nodes }, (_, i) => nodeNsName(this.prefix, i));
    if (this.usesHub()) names.push(hubNsName(this.prefix));
    return names;
  }

  /** Runs argv in a node and collects its output. Resolves whatever the exit status is;
   *  rejects when it cannot start or runs past timeoutMs (it is then killed). */
  exec(node: number, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const spawnOpts: SpawnOptions = { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] };
    if (opts.env !== undefined) spawnOpts.env = opts.env;
    if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
    let child: ChildProcess;
    try {
      child = this.spawn(node, argv, spawnOpts);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      let settled = false;
      const timer = setTimeout(() => {
        // Reject now rather than on 'close': a grandchild may hold the pipes open.
        settled = true;
        child.kill('SIGKILL');
        child.stdout?.destroy();
        child.stderr?.destroy();
        reject(bedError(`\`${argv.join(' ')}\` in node ${node} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(new BraidError('BRAID_TESTBED', `testbed: cannot run \`${argv.join(' ')}\` in node ${node}: ${e.message}`, { cause: e }));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  /** Starts argv in a node (`ip netns exec NS argv...`: the pid is the program's own).
   *  The process is killed by destroy(): SIGTERM, then SIGKILL after the grace period. */
  spawn(node: number, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw bedError(`bed ${this.prefix} is destroyed; cannot spawn \`${argv.join(' ')}\``);
    if (argv.length === 0) throw bedError('spawn needs a program to run');
    const child = spawnChild('ip', ['netns', 'exec', this.nodeName(node), ...argv], {
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Brings the interface of `path` in `node` up or down (the far end then sees no carrier). */
  /** Bringing it up resolves once the link carries traffic (unless its far end is down). */
  async setLink(node: number, path: number, up: boolean): Promise<void> {
    await runCommand(['ip', '-n', this.nodeName(node), 'link', 'set', this.iface(path), up ? 'up' : 'down']);
    if (up) await this.waitLinksReady([[node, path]]);
  }

  /** Brings a whole path up or down in every node. */
  async setPath(path: number, up: boolean): Promise<void> {
    this.checkPath(path);
    const links: Array<[number, number]> = [];
    for (let i = 0; i < this.nodes; i++) {
      await runCommand(['ip', '-n', this.nodeName(i), 'link', 'set', this.iface(path), up ? 'up' : 'down']);
      links.push([i, path]);
    }
    if (up) await this.waitLinksReady(links);
  }

  /** Shapes both directions of a path: tbf on the egress of every end. Replaces an earlier rate. */
  async shape(path: number, rate: string): Promise<void> {
    this.checkPath(path);
    if (!/^[0-9.]+[a-zA-Z]*$/.test(rate)) throw bedError(`rate ${JSON.stringify(rate)} is not a tc rate such as 100mbit`);
    for (const [ns, dev] of this.pathEnds(path)) {
      await runCommand(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf',
        'rate', rate, 'burst', TBF_BURST, 'latency', TBF_LATENCY]);
    }
    this.shaped.set(path, rate);
  }

  /** Removes the shaping of a path; no-op when it is not shaped. */
  async unshape(path: number): Promise<void> {
    this.checkPath(path);
    if (!this.shaped.has(path)) return;
    for (const [ns, dev] of this.pathEnds(path)) {
      await runCommand(['tc', '-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
    }
    this.shaped.delete(path);
  }

  /** Current rate of a path, or undefined when unshaped. */
  rate(path: number): string | undefined {
    return this.shaped.get(path);
  }

  /** `ethtool -K IF tx off` for node's interface on path (frames then carry full checksums). */
  async txChecksumOff(node: number, path: number): Promise<void> {
    await runCommand(['ip', 'netns', 'exec', this.nodeName(node), 'ethtool', '-K', this.iface(path), 'tx', 'off']);
  }

  /** Byte counters of node's interface on path (what the kernel counts, headers included). */
  async counters(node: number, path: number): Promise<Counters> {
    const ns = this.nodeName(node);
    const dev = this.iface(path);
    const json = await runCommand(['ip', '-n', ns, '-s', '-j', 'link', 'show', 'dev', dev]);
    const parsed = JSON.parse(json) as Array<{ stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } } }>;
    const s = parsed[0]?.stats64;
    if (typeof s?.tx?.bytes !== 'number' || typeof s.rx?.bytes !== 'number') {
      throw bedError(`no stats64 in \`ip -n ${ns} -s -j link show dev ${dev}\``);
    }
    return { txBytes: s.tx.bytes, rxBytes: s.rx.bytes };
  }

  /** Kills every process in the bed (tracked ones first, SIGTERM then SIGKILL), deletes the
   *  namespaces and everything in them. Idempotent: later calls return the first call's promise. */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  /** Blocking teardown for exit and signal handlers. Never throws. */
  destroySync(): void {
    this.destroyed = true;
    const names = this.namespaces();
    signalAll(this.livePids(), 'SIGTERM');
    killNetnsProcessesSync(names, Math.min(this.killGraceMs, SYNC_KILL_GRACE_MS));
    deleteNetnsSync(names);
    unregisterForExit(this);
  }

  private async teardown(): Promise<void> {
    this.destroyed = true;
    const names = this.namespaces();
    try {
      await this.stopChildren();
      // Whatever the tracked children started themselves (or exec'd via a shell) is still inside.
      await killNetnsProcesses(names, this.killGraceMs);
      await deleteNetns(names);
    } finally {
      unregisterForExit(this);
    }
  }

  private livePids(): number[] {
    const pids: number[] = [];
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) pids.push(c.pid);
    }
    return pids;
  }

  private async stopChildren(): Promise<void> {
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    if (running.length === 0) return;
    const exited = running.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
    const all = Promise.all(exited);
    for (const c of running) c.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), this.killGraceMs);
    });
    const done = await Promise.race([all.then(() => true), graceOver]);
    clearTimeout(timer);
    if (done) return;
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await all; // SIGKILL cannot be refused; wait so the children are reaped
  }

  private async build(opts: TestbedOptions): Promise<void> {
    const names = this.namespaces();
    await runIpBatch(undefined, names.map((n) => `netns add ${n}`));
    // Set before any interface exists: new devices copy `default`.
    for (let i = 0; i < this.nodes; i++) {
      await runCommand(['ip', 'netns', 'exec', nodeNsName(this.prefix, i), 'sysctl', '-qw',
        // Linux flushes global IPv6 addresses when a link goes down; after setLink(.., true)
        // a node must have the same addresses again, as it has for IPv4.
        'net.ipv6.conf.all.keep_addr_on_down=1',
        // No DAD at all (nodad covers only our addresses): link-local addresses are usable
        // at once too, and a segment of our own has no one to clash with.
        'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    if (this.usesHub()) {
      // The hub only bridges: keep it from sending router solicitations and MLD reports.
      await runCommand(['ip', 'netns', 'exec', hubNsName(this.prefix), 'sysctl', '-qw',
        'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }

    if (!this.usesHub()) {
      const [a, b] = names as [string, string];
      // Created straight inside the nodes: nothing ever appears in the root namespace.
      await runIpBatch(undefined, Array.from({ length: this.paths }, (_, p) =>
        `link add ${pathIface(p)} netns ${a} type veth peer name ${pathIface(p)} netns ${b}`));
    } else {
      const hub = hubNsName(this.prefix);
      const lines = ['link set lo up'];
      for (let p = 0; p < this.paths; p++) {
        // No STP (ports forward at once) and no multicast snooping (IPv6 ND must flood).
        lines.push(`link add ${hubBridgeName(p)} type bridge stp_state 0 mcast_snooping 0`, `link set ${hubBridgeName(p)} up`);
        for (let i = 0; i < this.nodes; i++) {
          const port = hubPortName(i, p);
          lines.push(
            `link add ${port} type veth peer name ${pathIface(p)} netns ${nodeNsName(this.prefix, i)}`,
            `link set ${port} master ${hubBridgeName(p)}`,
            `link set ${port} up`,
          );
        }
      }
      await runIpBatch(hub, lines);
    }

    for (let i = 0; i < this.nodes; i++) {
      const lines = ['link set lo up'];
      for (let p = 0; p < this.paths; p++) {
        const dev = pathIface(p);
        // Up before the addresses: an IPv6 address added to a down device answered the
        // first neighbour solicitation only after a 1 s retransmit (measured).
        lines.push(`link set ${dev} up`);
        lines.push(`addr add ${nodeAddress(i, p, 4)}/${prefixLength(4)} dev ${dev}`);
        // nodad: usable at once instead of "tentative" for a second or two.
        if (this.ipv6) lines.push(`addr add ${nodeAddress(i, p, 6)}/${prefixLength(6)} dev ${dev} nodad`);
      }
      await runIpBatch(nodeNsName(this.prefix, i), lines);
    }

    const links: Array<[number, number]> = [];
    for (let i = 0; i < this.nodes; i++) for (let p = 0; p < this.paths; p++) links.push([i, p]);
    await this.waitLinksReady(links);

    if (opts.txChecksumOff === true) {
      for (let p = 0; p < this.paths; p++) {
        for (const [ns, dev] of this.pathEnds(p)) {
          await runCommand(['ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off']);
        }
      }
    }
    if (opts.rate !== undefined) {
      for (let p = 0; p < this.paths; p++) await this.shape(p, opts.rate);
    }
  }

  // Waits until both ends of each (node, path) link report operstate UP. The kernel applies a
  // carrier change in linkwatch, at most once a second; until then the device keeps the noop
  // qdisc and silently drops what is sent (a fresh bed lost its first IPv6 neighbour
  // solicitation that way). A link whose far end is administratively down is not waited for.
  private async waitLinksReady(links: ReadonlyArray<[number, number]>, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.linkStates();
      const pending = links.filter(([node, path]) => {
        const ends = this.linkEnds(node, path).map(([ns, dev]) => state.get(`${ns}/${dev}`));
        if (ends.some((e) => e === undefined || !e.adminUp)) return false;
        return ends.some((e) => e?.oper !== 'UP');
      });
      if (pending.length === 0) return;
      if (Date.now() >= deadline) {
        const which = pending.map(([n, p]) => `${this.nodeName(n)}/${pathIface(p)}`).join(', ');
        throw bedError(`links did not come up within ${timeoutMs} ms: ${which}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // Admin flag and operstate of every interface in the bed, keyed `ns/dev`.
  private async linkStates(): Promise<Map<string, { adminUp: boolean; oper: string }>> {
    const out = new Map<string, { adminUp: boolean; oper: string }>();
    for (const ns of this.namespaces()) {
      const json = await runCommand(['ip', '-n', ns, '-j', 'link', 'show']);
      for (const l of JSON.parse(json) as Array<{ ifname: string; flags?: string[]; operstate?: string }>) {
        out.set(`${ns}/${l.ifname}`, { adminUp: l.flags?.includes('UP') ?? false, oper: l.operstate ?? 'UNKNOWN' });
      }
    }
    return out;
  }

  // The two [namespace, interface] ends of node's link on path: the veth peer is the other
  // node's interface, or with a hub the node's bridge port.
  private linkEnds(node: number, path: number): Array<[string, string]> {
    const own: [string, string] = [nodeNsName(this.prefix, node), pathIface(path)];
    if (this.usesHub()) return [own, [hubNsName(this.prefix), hubPortName(node, path)]];
    return [own, [nodeNsName(this.prefix, 1 - node), pathIface(path)]];
  }

  // Every [namespace, interface] that transmits onto a path: both veth ends, or with a hub
  // each node's end and its bridge port (so traffic is shaped in both directions).
  private pathEnds(path: number): Array<[string, string]> {
    const ends: Array<[string, string]> = [];
    for (let i = 0; i < this.nodes; i++) {
      ends.push([nodeNsName(this.prefix, i), pathIface(path)]);
      if (this.usesHub()) ends.push([hubNsName(this.prefix), hubPortName(i, path)]);
    }
    return ends;
  }

  private usesHub(): boolean {
    return this.nodes > 2;
  }

  private checkNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.nodes) {
      throw bedError(`node ${node} is out of range 0..${this.nodes - 1} (bed ${this.prefix})`);
    }
  }

  private checkPath(path: number): void {
    if (!Number.isInteger(path) || path < 0 || path >= this.paths) {
      throw bedError(`path ${path} is out of range 0..${this.paths - 1} (bed ${this.prefix})`);
    }
  }
}
