// The four ways a byte gets from node 0 to node 1 in the benchmark, all on one test bed:
//   direct   iperf3/redis client on node 0 -> server at 198.18.1.2 on node 1 (plain TCP, one path)
//   mptcpize iperf3 under `mptcpize run` on both nodes (kernel MPTCP, no proxy)
//   braid    client -> braid forward 127.0.0.1 on node 0 -> MPTCP -> braid inbound on node 1 -> server on 127.0.0.1
//   haproxy  client -> haproxy 127.0.0.1 on node 0 (mode tcp) -> plain TCP server at 198.18.1.2
// redis-server runs twice on node 1: plain (direct, braid, haproxy) and under mptcpize.
// This file starts every server and proxy and knows their ports; bench.ts only measures.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BraidNode, pathsFor } from '../../src/demo/braid-node';
import { Testbed, waitForPort } from '../../src/testbed';
import { startHaproxy } from './haproxy';

export const PORTS = {
  iperfDirect: 5201, // plain iperf3 server, all addresses of node 1
  iperfMptcp: 5301, // iperf3 server under mptcpize on node 1
  iperfLocal: 5202, // iperf3 server on 127.0.0.1 of node 1, behind braid inbound
  iperfInbound: 5401, // braid inbound on node 1 -> iperfLocal
  iperfForward: 15201, // braid forward on node 0 -> iperfInbound
  iperfHaproxy: 15301, // haproxy on node 0 -> iperfDirect
  redis: 6379, // redis-server on node 1
  redisMptcp: 6380, // redis-server under mptcpize on node 1
  redisHaproxy: 16479, // haproxy on node 0 -> redis
  redisInbound: 16380, // braid inbound on node 1 -> redis
  redisForward: 16379, // braid forward on node 0 -> redisInbound
} as const;

export const CLIENT = 0;
export const SERVER = 1;

export class BenchBed {
  /** braid on node 0 (forward listeners) and node 1 (inbound listeners). */
  readonly forward: BraidNode;
  readonly inbound: BraidNode;
  haproxy: ChildProcess | undefined;
  private readonly dir: string;

  private constructor(readonly bed: Testbed) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'braid-bench-'));
    const server = bed.address(SERVER, 0);
    this.inbound = new BraidNode(bed, SERVER, {
      config: {
        paths: pathsFor(bed, bed.paths),
        listeners: [
          { name: 'iperf-in', mode: 'inbound', listen: `0.0.0.0:${PORTS.iperfInbound}`, target: `127.0.0.1:${PORTS.iperfLocal}` },
          { name: 'redis-in', mode: 'inbound', listen: `0.0.0.0:${PORTS.redisInbound}`, target: `127.0.0.1:${PORTS.redis}` },
        ],
        log: { level: 'warn' },
      },
    });
    this.forward = new BraidNode(bed, CLIENT, {
      config: {
        paths: pathsFor(bed, bed.paths),
        listeners: [
          { name: 'iperf-out', mode: 'forward', listen: `127.0.0.1:${PORTS.iperfForward}`, upstream: `${server}:${PORTS.iperfInbound}` },
          { name: 'redis-out', mode: 'forward', listen: `127.0.0.1:${PORTS.redisForward}`, upstream: `${server}:${PORTS.redisInbound}` },
        ],
        log: { level: 'warn' },
      },
    });
  }

  /** A 2-node, 2-path bed shaped to `rate`, with every server and proxy running. */
  static async create(rate: string): Promise<BenchBed> {
    const bed = await Testbed.create({ nodes: 2, paths: 2, rate });
    const b = new BenchBed(bed);
    try {
      await b.start();
    } catch (err) {
      await b.destroy();
      throw err;
    }
    return b;
  }

  /** Address of the server node on path 0 (what direct and haproxy dial). */
  get serverAddress(): string {
    return this.bed.address(SERVER, 0);
  }

  private async start(): Promise<void> {
    const quiet = { stdio: 'ignore' as const };
    const bed = this.bed;
    // Servers print a line a second; nobody reads them, so they must not write into a pipe.
    bed.spawn(SERVER, ['iperf3', '-s', '-p', String(PORTS.iperfDirect)], quiet);
    bed.spawn(SERVER, ['mptcpize', 'run', 'iperf3', '-s', '-p', String(PORTS.iperfMptcp)], quiet);
    bed.spawn(SERVER, ['iperf3', '-s', '-B', '127.0.0.1', '-p', String(PORTS.iperfLocal)], quiet);
    const redis = (port: number): string[] => ['redis-server', '--port', String(port), '--bind', '0.0.0.0',
      '--protected-mode', 'no', '--save', '', '--appendonly', 'no'];
    bed.spawn(SERVER, redis(PORTS.redis), quiet);
    bed.spawn(SERVER, ['mptcpize', 'run', ...redis(PORTS.redisMptcp)], quiet);
    for (const port of [PORTS.iperfDirect, PORTS.iperfMptcp, PORTS.iperfLocal, PORTS.redis, PORTS.redisMptcp]) {
      await waitForPort(bed, SERVER, port);
    }
    await this.inbound.start();
    await this.forward.start();
    this.haproxy = await startHaproxy(bed, CLIENT, this.dir, [
      { name: 'iperf', port: PORTS.iperfHaproxy, server: `${this.serverAddress}:${PORTS.iperfDirect}` },
      { name: 'redis', port: PORTS.redisHaproxy, server: `${this.serverAddress}:${PORTS.redis}` },
    ]);
  }

  /** Removes the shaping of every path. */
  async unshape(): Promise<void> {
    for (let p = 0; p < this.bed.paths; p++) await this.bed.unshape(p);
  }

  /** Stops braid (so it removes its kernel endpoints), kills everything else with the bed. */
  async destroy(): Promise<void> {
    const problems: string[] = [];
    for (const n of [this.forward, this.inbound]) {
      const code = await n.stop().catch(() => -1);
      if (code === 0 || code === null) n.removeFiles();
      else problems.push(`braid in ${this.bed.nodeName(n.node)} exited ${code}; its log is ${n.logFile}`);
    }
    await this.bed.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    for (const p of problems) process.stderr.write(`${p}\n`);
  }
}
