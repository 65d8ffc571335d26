// One spelling per IP address, so addresses from the kernel, from os.networkInterfaces()
// and from socket stats compare equal ("2001:0002::0001" and "2001:2::1" are one address).
import { isIPv4, isIPv6 } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** Canonical text of a numeric address (IPv6 compressed lowercase, IPv4-mapped as IPv4); undefined if not an IP. */
export function canonicalAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''); // brackets, zone id
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return undefined;
  const mapped = MAPPED_V4.exec(bare);
  if (mapped !== null && mapped[1] !== undefined) return mapped[1];
  // The URL parser serializes IPv6 hosts per RFC 5952 (compressed, lowercase).
  const host = new URL(`http://[${bare}]/`).hostname;
  const canon = host.slice(1, -1);
  const remapped = MAPPED_V4.exec(canon);
  return remapped !== null && remapped[1] !== undefined ? remapped[1] : canon;
}

/** fe80::/10: scoped to one link, useless as an MPTCP endpoint. */
export function isLinkLocalV6(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address);
}
