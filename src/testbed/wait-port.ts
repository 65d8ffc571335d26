// Waits until a TCP port is listening inside a node, by polling `ss` in its namespace.
// (An MPTCP listener shows up here too: its first subflow is a TCP listener.)
import { BraidError } from '../errors';
import type { Testbed } from './testbed';

export interface WaitPortOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export async function waitForPort(bed: Testbed, node: number, port: number, opts: WaitPortOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await bed.exec(node, ['ss', '-Hltn', `sport = :${port}`], { timeoutMs: Math.max(1000, timeoutMs) });
    if (r.code === 0 && r.stdout.trim() !== '') return;
    if (Date.now() >= deadline) {
      throw new BraidError('BRAID_TESTBED',
        `testbed: nothing listens on TCP port ${port} in ${bed.nodeName(node)} after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
