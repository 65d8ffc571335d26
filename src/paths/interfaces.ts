// Interface name -> ifindex and the addresses braid may announce or use for subflows.
// Reads /sys/class/net (mounted for this netns by `ip netns exec` and container runtimes)
// and os.networkInterfaces() (getifaddrs; lists only interfaces that are up and running).
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { canonicalAddress, isLinkLocalV6 } from './address';

export interface ResolvedInterface {
  name: string;
  ifindex: number;
  /** IPv4 and global IPv6 addresses, canonical spelling; link-local IPv6 skipped. */
  addresses: string[];
  operstate: string; // from sysfs, for error messages ("down", "up", "unknown")
}

/** Seam for tests: resolve an interface by name, undefined when it does not exist. */
export type InterfaceResolver = (name: string) => ResolvedInterface | undefined;

export const resolveInterface: InterfaceResolver = (name) => {
  // A name with a slash or a dot-only name would escape /sys/class/net.
  if (name === '' || name.includes('/') || name === '.' || name === '..') return undefined;
  let ifindex: number;
  let operstate = 'unknown';
  try {
    ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
  try {
    operstate = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
  } catch {
    // operstate only improves the error message
  }
  const addresses: string[] = [];
  for (const info of networkInterfaces()[name] ?? []) {
    const address = canonicalAddress(info.address);
    if (address === undefined) continue;
    if (info.family === 'IPv6' && isLinkLocalV6(address)) continue;
    if (!addresses.includes(address)) addresses.push(address);
  }
  return { name, ifindex, addresses, operstate };
};
