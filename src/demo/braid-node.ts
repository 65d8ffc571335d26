// Runs a real `braid run` inside one node of a test bed: writes its config, starts it, waits
// until it is ready, and stops it with SIGTERM. Used by `braid demo`, the integration tests and
// the benchmark, so all three exercise exactly what a user runs.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Testbed } from '../testbed';

export const CLI = path.resolve(__dirname, '../cli.js');

export interface BraidNodeOptions {
  /** The YAML config as an object (serialised as is). */
  config: Record<string, unknown>;
  /** Admin address inside the node, as in the config (default 127.0.0.1:9464). */
  admin?: string;
  readyTimeoutMs?: number;
  /**
   * 'configmap': lay the file out as Kubernetes mounts a ConfigMap (braid.yaml -> ..data/braid.yaml,
   * ..data -> a timestamped directory), so updateConfig() swaps it the way the kubelet does.
   */
  layout?: 'file' | 'configmap';
}

export class BraidNode {
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly admin: string;
  private proc: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;

  constructor(
    private readonly bed: Testbed,
    readonly node: number,
    private readonly options: BraidNodeOptions,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), `braid-${bed.nodeName(node)}-`));
    this.configFile = path.join(this.dir, 'braid.yaml');
    this.logFile = path.join(this.dir, 'braid.log');
    this.admin = options.admin ?? '127.0.0.1:9464';
    if (options.layout === 'configmap') {
      symlinkSync('..data/braid.yaml', this.configFile);
      this.updateConfig(options.config);
    } else {
      writeFileSync(this.configFile, stringify(options.config));
    }
  }

  private generation = 0;

  /** Replace the config: in place for 'file'; for 'configmap', the kubelet's atomic symlink swap. */
  updateConfig(config: Record<string, unknown> | string): void {
    const text = typeof config === 'string' ? config : stringify(config);
    if (this.options.layout !== 'configmap') {
      writeFileSync(this.configFile, text);
      return;
    }
    const dataDir = `..${Date.now()}_${this.generation++}`;
    mkdirSync(path.join(this.dir, dataDir));
    writeFileSync(path.join(this.dir, dataDir, 'braid.yaml'), text);
    const link = path.join(this.dir, '..data');
    let old: string | undefined;
    try {
      old = readlinkSync(link);
    } catch {
      old = undefined;
    }
    symlinkSync(dataDir, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), link);
    if (old !== undefined) rmSync(path.join(this.dir, old), { recursive: true, force: true });
  }

  /** Send a signal to the running braid (e.g. SIGHUP to reload). */
  signal(signal: NodeJS.Signals): void {
    this.proc?.kill(signal);
  }

  async start(): Promise<void> {
    // Each node gets its own state directory: they share the host's /run but not a netns.
    const stateDir = path.join(this.dir, 'state');
    const proc = this.bed.spawn(this.node, [process.execPath, CLI, 'run', '-c', this.configFile], {
      env: { ...process.env, BRAID_STATE_DIR: stateDir },
    });
    this.proc = proc;
    const log = createWriteStream(this.logFile);
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    this.exit = new Promise((resolve) => proc.once('exit', (code: number | null) => resolve(code)));
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 15_000);
    for (;;) {
      const r = await this.bed.exec(this.node, ['curl', '-sf', '-m', '1', `http://${this.admin}/readyz`]);
      if (r.code === 0) return;
      if (proc.exitCode !== null) throw new Error(`braid in ${this.bed.nodeName(this.node)} exited ${proc.exitCode}:\n${this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`braid in ${this.bed.nodeName(this.node)} not ready:\n${this.logTail()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** GET an admin route inside the node; parsed JSON, or the text for /metrics. */
  async get(route: string): Promise<string> {
    const r = await this.bed.exec(this.node, ['curl', '-sf', '-m', '5', `http://${this.admin}${route}`]);
    if (r.code !== 0) throw new Error(`GET ${route} in ${this.bed.nodeName(this.node)} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** The open connections from /connections, each subflow annotated with its path. */
  async connections(): Promise<Array<Record<string, any>>> {
    const doc = JSON.parse(await this.get('/connections')) as { connections: Array<Record<string, any>> };
    return doc.connections;
  }

  /** Send SIGTERM and wait for the exit status. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.proc || !this.exit) return null;
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exit;
  }

  /**
   * Stop (SIGTERM), then remove the node's files when braid exited 0; otherwise keep them and
   * write the end of its log to stderr, so a failing run leaves its evidence. Returns the status.
   */
  async finish(): Promise<number | null> {
    const code = await this.stop();
    if (code === 0 || code === null) this.removeFiles();
    else process.stderr.write(`braid in ${this.bed.nodeName(this.node)} exited ${code}; its files are in ${this.dir}:\n${this.logTail()}\n`);
    return code;
  }

  /** Exit status once the process has ended on its own. */
  exited(): Promise<number | null> {
    return this.exit ?? Promise.resolve(null);
  }

  /** Sockets the braid process holds now (from /proc): a leak shows as growth. */
  openSockets(): number {
    const dir = `/proc/${this.pid}/fd`;
    return readdirSync(dir).filter((fd) => {
      try {
        return readlinkSync(`${dir}/${fd}`).startsWith('socket:');
      } catch {
        return false; // closed while we looked
      }
    }).length;
  }

  /** The last lines of the log, for error messages. */
  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Config for a node of the standard pair: every bed path becomes a braid path. */
export function pathsFor(bed: Testbed, paths: number): Array<{ name: string; interface: string }> {
  return Array.from({ length: paths }, (_, p) => ({ name: `nic${p}`, interface: bed.iface(p) }));
}
