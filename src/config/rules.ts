// Rules that one key's schema cannot express: uniqueness, keys required or forbidden by
// another key, addresses that would collide at bind time. They all live in this one
// function so the full set is readable in one place. It runs only on a config that passed
// the schema, so it may trust every type and format.
import { formatSocketAddress, parseSocketAddress, type SocketAddress } from './address';
import { parseDuration } from './duration';
import type { RawIssue } from './issue';
import { formatPath, type KeyPath } from './path';
import type { BraidConfig } from './schema';

export function crossFieldRules(config: BraidConfig): RawIssue[] {
  const issues: RawIssue[] = [];
  const value = (path: KeyPath, message: string) => issues.push({ path, anchor: 'value', message });

  if (config.transport === 'dpdk') value(['transport'], 'not available yet (transport: kernel only)');

  unique(config.paths.map((p, i) => ({ value: p.name, path: ['paths', i, 'name'] })), 'path name', value);
  unique(config.paths.map((p, i) => ({ value: p.interface, path: ['paths', i, 'interface'] })), 'interface', value);
  unique(config.listeners.map((l, i) => ({ value: l.name, path: ['listeners', i, 'name'] })), 'listener name', value);

  config.listeners.forEach((l, i) => {
    const [needed, forbidden] = l.mode === 'forward' ? (['upstream', 'target'] as const) : (['target', 'upstream'] as const);
    const why = l.mode === 'forward' ? 'the remote address to dial over MPTCP' : 'the local address to deliver to';
    if (l[needed] === undefined) {
      issues.push({ path: ['listeners', i, needed], anchor: 'parent', message: `mode "${l.mode}" requires "${needed}" (${why})` });
    }
    if (l[forbidden] !== undefined) {
      issues.push({
        path: ['listeners', i, forbidden],
        anchor: 'key',
        message: `"${forbidden}" is not allowed with mode "${l.mode}" (a ${l.mode} listener uses "${needed}")`,
      });
    }
  });

  // Every address braid binds; later ones are reported against the first that holds the port.
  // Listeners bind IPv6 with IPV6_V6ONLY (the data plane's choice); the admin endpoint is Node's
  // http server, where "::" is dual-stack.
  const binds: Bind[] = [];
  config.listeners.forEach((l, i) =>
    binds.push({ path: ['listeners', i, 'listen'], label: `listener "${l.name}"`, address: bindAddress(l.listen), dualStack: false }),
  );
  if (config.admin.listen !== 'off') {
    binds.push({ path: ['admin', 'listen'], label: 'the admin endpoint', address: bindAddress(config.admin.listen), dualStack: true });
  }
  binds.forEach((b, i) => {
    const clash = binds.slice(0, i).find((earlier) => overlaps(earlier, b));
    if (clash !== undefined) {
      value(b.path, `${formatSocketAddress(b.address)} collides with ${formatSocketAddress(clash.address)} of ${clash.label} (${formatPath(clash.path)}): both cannot bind`);
    }
  });

  const connect = parseDuration(config.timeouts.connect);
  if (connect.ok && connect.ms === 0) value(['timeouts', 'connect'], 'must be more than 0 (a connect timeout cannot be disabled)');

  return issues;
}

function unique(items: { value: string; path: KeyPath }[], what: string, report: (path: KeyPath, message: string) => void): void {
  const first = new Map<string, KeyPath>();
  for (const item of items) {
    const earlier = first.get(item.value);
    if (earlier === undefined) first.set(item.value, item.path);
    else report(item.path, `duplicate ${what} "${item.value}" (already used at ${formatPath(earlier)})`);
  }
}

function bindAddress(text: string): SocketAddress {
  const parsed = parseSocketAddress(text, { allowPortZero: true });
  if (!parsed.ok) throw new Error(`crossFieldRules: schema let through "${text}"`); // the schema's format forbids this
  return parsed.address;
}

interface Bind {
  path: KeyPath;
  label: string;
  address: SocketAddress;
  dualStack: boolean; // "::" also takes the IPv4 side of its port
}

/** Would binding both fail with EADDRINUSE? Port 0 never collides. */
function overlaps(x: Bind, y: Bind): boolean {
  const a = x.address;
  const b = y.address;
  if (a.port === 0 || a.port !== b.port) return false;
  if (a.host === b.host) return true;
  if ((a.host === '::' && x.dualStack) || (b.host === '::' && y.dualStack)) return true;
  if (a.family !== b.family) return false;
  return a.host === '0.0.0.0' || b.host === '0.0.0.0' || a.host === '::' || b.host === '::';
}
