// The address and port forms of policies: CIDRs ("198.18.8.0/24", "2001:2::/48", or a bare
// address for one host), port ranges ("7000-7100"), cgroupv2 paths and bare target hosts.
// Parsed once here; nft and decide() only ever see the parsed form.
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  address: string; // canonical numeric form, IPv6 in RFC 5952 form
  prefix: number;
}

export interface PortRange {
  from: number;
  to: number; // inclusive; from === to for a single port
}

type Parse<T> = { ok: true; value: T } | { ok: false; problem: string };

const CIDR_FORMS = 'use "a.b.c.d/len" or "ipv6/len" (a bare address is one host), e.g. "198.18.8.0/24" or "2001:2::/48"';

export function parseCidr(text: string): Parse<Cidr> {
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  let family: 4 | 6;
  if (isIPv4(host)) family = 4;
  else if (isIPv6(host) && !host.includes('%')) family = 6;
  else return { ok: false, problem: `"${text}" is not a CIDR: ${CIDR_FORMS}` };
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return { ok: false, problem: `"${text}": the prefix length must be an integer from 0 to ${bits}` };
    }
    prefix = Number(prefixText);
  }
  const value = toBigInt(host, family);
  const masked = value & mask(prefix, bits);
  const address = fromBigInt(masked, family);
  // nft would silently clear host bits; a typo there (".1/24" for ".0/24") deserves a word.
  if (masked !== value) return { ok: false, problem: `"${text}" has host bits set after /${prefix}: did you mean "${address}/${prefix}"?` };
  return { ok: true, value: { family, address, prefix } };
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

/** Is `address` (numeric, of either family) inside `cidr`? */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
  if (family !== cidr.family) return false;
  const bits = family === 4 ? 32 : 128;
  return (toBigInt(address, family) & mask(cidr.prefix, bits)) === toBigInt(cidr.address, family);
}

const RANGE = /^(\d{1,5})-(\d{1,5})$/;
export const PORT_RANGE_PATTERN = '^\\d{1,5}-\\d{1,5}$';

export function parsePortRange(text: string): Parse<PortRange> {
  const m = RANGE.exec(text);
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (m === null || from < 1 || to > 65535 || from > to) {
    return {
      ok: false,
      problem: `"${text}" is not a port range: use "FROM-TO" with ports 1..65535 and FROM <= TO, e.g. "7000-7100" (a single port is a plain number)`,
    };
  }
  return { ok: true, value: { from, to } };
}

// A path below the cgroupv2 root as nft's `socket cgroupv2 level N "path"` takes it.
export const CGROUP_PATTERN = '^[^/"\\\\]+(/[^/"\\\\]+)*$';
const CGROUP = new RegExp(CGROUP_PATTERN);

export function cgroupProblem(text: string): string | undefined {
  const segments = text.split('/');
  const bad =
    !CGROUP.test(text) || segments.some((s) => s === '.' || s === '..') || /[\u0000-\u001f\u007f]/.test(text) || segments.length > 255;
  return bad
    ? `"${text}" is not a cgroupv2 path: segments below the cgroup root joined by '/', without a leading '/', '.' or '..' segments, quotes or backslashes, e.g. "system.slice/app.service"`
    : undefined;
}

/** A numeric host without port (transparent-inbound targets). undefined: not one. */
export function parseHost(text: string): { host: string; family: 4 | 6 } | undefined {
  if (isIPv4(text)) return { host: text, family: 4 };
  if (isIPv6(text) && !text.includes('%')) return { host: new URL(`http://[${text}]/`).hostname.slice(1, -1), family: 6 };
  return undefined;
}

function mask(prefix: number, bits: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

function toBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  return expandIPv6(address).reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function fromBigInt(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1); // RFC 5952 form
}

/** Eight 16-bit groups of a valid IPv6 address (embedded IPv4 tails included). */
function expandIPv6(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
