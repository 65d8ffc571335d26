// Per-run names for test-bed namespaces. The owning pid is encoded in the prefix so that
// sweepStale() can tell a crashed run's namespaces (pid dead) from a live run's.
import { randomBytes } from 'node:crypto';

const PREFIX_LEAD = 'bd';
const RANDOM_CHARS = 2;
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

// `bd` + pid in base 36 + 2 random base-36 chars, e.g. `bd2rkx7q` for pid 130011.
// Two random chars tell apart several beds of one process (36^2 = 1296 values; a clash is
// caught by `ip netns add` failing on an existing name).
export function makePrefix(pid: number = process.pid): string {
  const rnd = randomBytes(RANDOM_CHARS);
  let tail = '';
  for (const b of rnd) tail += BASE36[b % 36];
  return `${PREFIX_LEAD}${pid.toString(36)}${tail}`;
}

// Namespace names of a bed: `<prefix>-n<i>` for nodes, `<prefix>-hub` for the bridges (N > 2),
// `<prefix>-x<label>` for a namespace a test adds beside the bed (e.g. a pod behind a node).
const NS_RE = /^bd([0-9a-z]+)[0-9a-z]{2}-(?:n\d+|hub|x[a-z]{1,8})$/;

export function nodeNsName(prefix: string, node: number): string {
  return `${prefix}-n${node}`;
}

export function hubNsName(prefix: string): string {
  return `${prefix}-hub`;
}

/** A namespace a test creates itself under the bed's prefix, so sweepStale() also removes it
 *  after a crashed run. The test deletes it; destroy() does not know it. */
export function extraNsName(prefix: string, label: string): string {
  if (!/^[a-z]{1,8}$/.test(label)) throw new Error(`extraNsName: label "${label}" is not 1 to 8 letters a-z`);
  return `${prefix}-x${label}`;
}

export interface ParsedNsName {
  prefix: string;
  pid: number;
}

// Returns undefined for a name that is not a test-bed namespace.
export function parseNsName(name: string): ParsedNsName | undefined {
  const m = NS_RE.exec(name);
  if (m === null) return undefined;
  const pid = parseInt(m[1] as string, 36);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { prefix: name.slice(0, name.indexOf('-')), pid };
}

// Interface of path p inside every node: the same name everywhere, so a config can say `p0`.
export function pathIface(path: number): string {
  return `p${path}`;
}

// Hub-side end of node i's link on path p (N > 2); lives in the hub namespace only.
export function hubPortName(node: number, path: number): string {
  return `n${node}p${path}`;
}

export function hubBridgeName(path: number): string {
  return `br${path}`;
}

// RFC 5180 benchmarking ranges: 198.18.(p+1).(i+1)/24 and 2001:2:0:(p+1)::(i+1)/64.
export function nodeAddress(node: number, path: number, family: 4 | 6): string {
  if (family === 4) return `198.18.${path + 1}.${node + 1}`;
  return `2001:2:0:${(path + 1).toString(16)}::${(node + 1).toString(16)}`;
}

export function prefixLength(family: 4 | 6): number {
  return family === 4 ? 24 : 64;
}
