// Two nodes, two paths: braid forward on node 0, and on node 1 either braid inbound in front of
// the hash server, a plain TCP hash server (no braid), or an MPTCP one (mptcpize, no braid).
import path from 'node:path';
import { BraidNode, pathsFor } from '../../src/demo/braid-node';
import { Testbed, waitForPort, type ExecResult } from '../../src/testbed';

export const FIXTURES = path.resolve(__dirname, '../fixtures');
export const SERVER_PORT = 7000; // what the client dials on node 1
export const APP_PORT = 7001; // the hash server behind braid inbound
export const CLIENT_PORT = 7100; // braid forward on node 0

export type ServerKind = 'braid' | 'tcp' | 'mptcpize';

export interface PairOptions {
  rate?: string;
  family?: 4 | 6;
  server?: ServerKind;
  /** Extra top-level keys for the client's config (timeouts, limits, ...). */
  clientConfig?: Record<string, unknown>;
  clientListener?: Record<string, unknown>;
  /** More listeners on the client node. */
  extraClientListeners?: Record<string, unknown>[];
  /** How the client's config file is laid out (see BraidNode). */
  clientLayout?: 'file' | 'configmap';
}

export interface HashReport {
  ok: boolean;
  failed: number;
  count: number;
  results: unknown[];
}

export class Pair {
  readonly client: BraidNode;
  server: BraidNode | undefined;

  private constructor(
    readonly bed: Testbed,
    private readonly options: PairOptions,
  ) {
    const family = options.family ?? 4;
    const host = bed.address(1, 0, family);
    const upstream = family === 6 ? `[${host}]:${SERVER_PORT}` : `${host}:${SERVER_PORT}`;
    this.client = new BraidNode(bed, 0, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [
          { name: 'out', mode: 'forward', listen: `127.0.0.1:${CLIENT_PORT}`, upstream, ...options.clientListener },
          ...(options.extraClientListeners ?? []),
        ],
        log: { level: 'info' },
        ...options.clientConfig,
      },
      ...(options.clientLayout ? { layout: options.clientLayout } : {}),
    });
  }

  static async create(options: PairOptions = {}): Promise<Pair> {
    const bed = await Testbed.create({ nodes: 2, paths: 2, ...(options.rate ? { rate: options.rate } : {}) });
    const pair = new Pair(bed, options);
    try {
      await pair.startServer();
      await pair.client.start();
    } catch (err) {
      await pair.destroy();
      throw err;
    }
    return pair;
  }

  private async startServer(): Promise<void> {
    const kind = this.options.server ?? 'braid';
    const server = path.join(FIXTURES, 'hash-server.js');
    if (kind === 'braid') {
      this.bed.spawn(1, [process.execPath, server, '127.0.0.1', String(APP_PORT)]);
      await waitForPort(this.bed, 1, APP_PORT);
      this.server = new BraidNode(this.bed, 1, {
        config: {
          paths: pathsFor(this.bed, 2),
          listeners: [
            { name: 'in4', mode: 'inbound', listen: `0.0.0.0:${SERVER_PORT}`, target: `127.0.0.1:${APP_PORT}` },
            { name: 'in6', mode: 'inbound', listen: `[::]:${SERVER_PORT}`, target: `127.0.0.1:${APP_PORT}` },
          ],
          log: { level: 'info' },
        },
      });
      await this.server.start();
      return;
    }
    const argv = [process.execPath, server, '::', String(SERVER_PORT)];
    this.bed.spawn(1, kind === 'mptcpize' ? ['mptcpize', 'run', ...argv] : argv);
    await waitForPort(this.bed, 1, SERVER_PORT);
  }

  /** Runs the hash client on node 0 against braid's forward listener. */
  async hashClient(connections: number, up: number, down: number, opts: { mode?: 'stream' | 'after-eof'; random?: boolean; timeoutMs?: number; port?: number } = {}): Promise<{ exec: ExecResult; report: HashReport }> {
    const argv = [process.execPath, path.join(FIXTURES, 'hash-client.js'), '127.0.0.1', String(opts.port ?? CLIENT_PORT), String(connections), String(up), String(down), opts.mode ?? 'stream'];
    if (opts.random) argv.push('--random');
    const exec = await this.bed.exec(0, argv, { timeoutMs: opts.timeoutMs ?? 120_000 });
    let report: HashReport;
    try {
      report = JSON.parse(exec.stdout.trim().split('\n').pop() ?? '') as HashReport;
    } catch {
      throw new Error(`hash-client printed no report (exit ${exec.code}): ${exec.stderr}`);
    }
    return { exec, report };
  }

  async metric(node: BraidNode, pattern: RegExp): Promise<number> {
    const text = await node.get('/metrics');
    const m = pattern.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /**
   * Close events reach the metrics a moment after the client sees its EOF: poll until the
   * value satisfies `until` (or a few seconds pass), then return the last value read.
   */
  async settledMetric(node: BraidNode, pattern: RegExp, until: (v: number) => boolean): Promise<number> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const v = await this.metric(node, pattern);
      if (until(v) || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async destroy(): Promise<void> {
    const nodes = [this.client, this.server].filter((n): n is BraidNode => n !== undefined);
    const codes: Array<number | null> = [];
    for (const n of nodes) codes.push(await n.stop());
    await this.bed.destroy();
    nodes.forEach((n, i) => {
      // A braid that did not exit 0 keeps its files, and its log's end goes to the test output.
      if (codes[i] === 0) n.removeFiles();
      else process.stderr.write(`braid on node ${n.node} exited ${codes[i]}; log ${n.logFile}:\n${n.logTail()}\n`);
    });
  }
}

export const MiB = 1024 * 1024;
