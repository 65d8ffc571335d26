// Reachability check without ping (iputils-ping is not installed on these machines): a TCP
// connect from a node to an address. A completed handshake or a RST ("connection refused")
// both prove an IP round trip to the peer's kernel; a timeout or an unreachable error does not.
import type { Testbed } from './testbed';

// Runs in the node under the same node binary; exit 0 = reached, 1 = not, 2 = bad usage.
const PROBE_SCRIPT = `
const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
const done = (ok, why) => { s.destroy(); process.stdout.write(why); process.exit(ok ? 0 : 1); };
s.setTimeout(Number(ms), () => done(false, 'timeout'));
s.on('connect', () => done(true, 'connected'));
s.on('error', (e) => done(e.code === 'ECONNREFUSED', e.code || e.message));
`;

export interface ProbeOptions {
  /** Destination port; default 9 (discard): nothing listens, so the peer answers with a RST. */
  port?: number;
  timeoutMs?: number;
}

export interface ProbeResult {
  reached: boolean;
  /** 'connected', 'ECONNREFUSED', 'timeout', 'ENETUNREACH', ... */
  outcome: string;
}

export async function probeTcp(bed: Testbed, node: number, address: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const r = await bed.exec(node, [process.execPath, '-e', PROBE_SCRIPT, address, String(opts.port ?? 9), String(timeoutMs)], {
    timeoutMs: timeoutMs + 5000,
  });
  return { reached: r.code === 0, outcome: r.stdout.trim() || r.stderr.trim() };
}
