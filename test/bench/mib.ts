// Kernel MPTCP counters of a node (the MPTcpExt line pair of /proc/net/netstat in its namespace):
// evidence that a run really negotiated MPTCP instead of silently falling back to TCP.
import type { Testbed } from '../../src/testbed';

/** Parses the `MPTcpExt:` header and value lines of /proc/net/netstat. */
export function parseMptcpMib(netstat: string): Map<string, number> {
  const lines = netstat.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
  const out = new Map<string, number>();
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  if (names === undefined || values === undefined) return out; // kernel without MPTCP
  names.forEach((n, i) => out.set(n, Number(values[i])));
  return out;
}

export async function mptcpCounter(bed: Testbed, node: number, name: string): Promise<number> {
  const r = await bed.exec(node, ['cat', '/proc/net/netstat']);
  if (r.code !== 0) throw new Error(`cannot read /proc/net/netstat in ${bed.nodeName(node)}: ${r.stderr}`);
  return parseMptcpMib(r.stdout).get(name) ?? 0;
}
