// HAProxy as the reference proxy: one process, TCP mode, no logging, two threads.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Testbed } from '../../src/testbed';
import { waitForPort } from '../../src/testbed';

export interface HaproxyRoute {
  name: string;
  /** Port on 127.0.0.1 to accept on. */
  port: number;
  /** `ip:port` to forward to. */
  server: string;
}

export function haproxyConfig(routes: readonly HaproxyRoute[]): string {
  const lines = [
    'global',
    '  nbthread 2',
    '  maxconn 1000', // 10000 needs more descriptors than the 20000 the bed's processes may open
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    // iperf3 keeps its control connection idle while the test runs.
    '  timeout client 5m',
    '  timeout server 5m',
  ];
  for (const r of routes) {
    lines.push(`frontend ${r.name}`, `  bind 127.0.0.1:${r.port}`, `  default_backend ${r.name}`);
    lines.push(`backend ${r.name}`, `  server s1 ${r.server}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Starts haproxy in the foreground (-db: no daemon, no master process: one pid to measure). */
export async function startHaproxy(bed: Testbed, node: number, dir: string, routes: readonly HaproxyRoute[]): Promise<ChildProcess> {
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(routes));
  const proc = bed.spawn(node, ['haproxy', '-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => void (stderr += b.toString()));
  for (const r of routes) {
    try {
      await waitForPort(bed, node, r.port);
    } catch (err) {
      throw new Error(`haproxy did not start listening on 127.0.0.1:${r.port}: ${stderr.trim() || (err as Error).message}`);
    }
  }
  return proc;
}
