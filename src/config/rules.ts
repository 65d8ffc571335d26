// Rules that one key's schema cannot express: uniqueness, keys required or forbidden by
// another key, addresses that would collide at bind time. They all live in this one
// function so the full set is readable in one place. It runs only on a config that passed
// the schema, so it may trust every type and format.
import { formatSocketAddress, parseSocketAddress, type SocketAddress } from './address';
import { parseDuration } from './duration';
import type { RawIssue } from './issue';
import { formatPath, type KeyPath } from './path';
import { parseHost } from './cidr';
import type { BraidConfig, ListenerConfig, PolicyConfig } from './schema';

type ListenerKey = 'listen' | 'upstream' | 'target' | 'ports' | 'capture' | 'scheduler' | 'paths';

// Which keys each listener mode needs and which it must not have; `uses` words the forbidden-key message.
const LISTENER_KEYS: Record<ListenerConfig['mode'], { required: ListenerKey[]; forbidden: ListenerKey[]; uses: string }> = {
  forward: { required: ['listen', 'upstream'], forbidden: ['target', 'ports', 'capture'], uses: 'a forward listener uses "listen" and "upstream"' },
  inbound: { required: ['listen', 'target'], forbidden: ['upstream', 'ports', 'capture'], uses: 'an inbound listener uses "listen" and "target"' },
  transparent: {
    required: [],
    forbidden: ['listen', 'upstream', 'target', 'ports', 'scheduler', 'paths'],
    uses: 'a transparent listener binds ephemeral ports and dials the original destination; policies say what it captures and how (scheduler, paths)',
  },
  'transparent-inbound': {
    required: ['ports'],
    forbidden: ['listen', 'upstream', 'capture'],
    uses: 'a transparent-inbound listener binds ephemeral ports and takes "ports" and an optional "target" host',
  },
};

const KEY_WHY: Record<ListenerKey, string> = {
  listen: 'the address to accept connections on',
  upstream: 'the remote address to dial over MPTCP',
  target: 'the local address to deliver to',
  ports: 'the local ports whose incoming connections braid takes',
  capture: 'which connections a transparent listener takes',
  scheduler: 'which subflows carry data',
  paths: 'the order of paths for backup-ordered',
};

/** A policy without match, or with an empty one, takes every connection. */
export function isCatchAll(match: PolicyConfig['match']): boolean {
  return match === undefined || Object.values(match).every((v) => v === undefined);
}

export function crossFieldRules(config: BraidConfig): RawIssue[] {
  const issues: RawIssue[] = [];
  const value = (path: KeyPath, message: string) => issues.push({ path, anchor: 'value', message });

  if (config.transport === 'dpdk') value(['transport'], 'not available yet (transport: kernel only)');

  unique(config.paths.map((p, i) => ({ value: p.name, path: ['paths', i, 'name'] })), 'path name', value);
  unique(config.paths.map((p, i) => ({ value: p.interface, path: ['paths', i, 'interface'] })), 'interface', value);
  unique(config.listeners.map((l, i) => ({ value: l.name, path: ['listeners', i, 'name'] })), 'listener name', value);

  config.listeners.forEach((l, i) => {
    const keys = LISTENER_KEYS[l.mode];
    for (const key of keys.required) {
      if (l[key] === undefined) {
        issues.push({ path: ['listeners', i, key], anchor: 'parent', message: `mode "${l.mode}" requires "${key}" (${KEY_WHY[key]})` });
      }
    }
    for (const key of keys.forbidden) {
      if (l[key] !== undefined) {
        issues.push({ path: ['listeners', i, key], anchor: 'key', message: `"${key}" is not allowed with mode "${l.mode}" (${keys.uses})` });
      }
    }
    if (l.mode === 'transparent') {
      unique((l.capture ?? []).map((c, k) => ({ value: c, path: ['listeners', i, 'capture', k] })), 'capture', value);
    }
    if (l.target !== undefined && (l.mode === 'inbound' || l.mode === 'transparent-inbound')) {
      const hostOnly = parseHost(l.target) !== undefined;
      if (l.mode === 'inbound' && hostOnly) {
        value(['listeners', i, 'target'], `"${l.target}" has no port: an inbound listener delivers to "ipv4:port" or "[ipv6]:port"`);
      }
      if (l.mode === 'transparent-inbound' && !hostOnly) {
        value(['listeners', i, 'target'], `"${l.target}": a transparent-inbound target is a bare numeric host such as "127.0.0.1" or "::1" (each connection keeps its own port)`);
      }
    }
  });

  const transparent = config.listeners.flatMap((l, i) => (l.mode === 'transparent' ? [i] : []));
  for (const i of transparent.slice(1)) {
    value(['listeners', i, 'mode'], `only one transparent listener is allowed (already listeners[${transparent[0]}] "${config.listeners[transparent[0]!]!.name}")`);
  }
  // A port taken by two transparent-inbound listeners would go to whichever rule came first.
  unique(
    config.listeners.flatMap((l, i) => (l.mode === 'transparent-inbound' ? (l.ports ?? []).map((p, k) => ({ value: String(p), path: ['listeners', i, 'ports', k] })) : [])),
    'transparent-inbound port',
    value,
  );

  if (transparent.length > 0 && config.policies.length === 0) {
    issues.push({ path: ['policies'], anchor: 'parent', message: 'add policies: a transparent listener captures what policies send to it' });
  }
  if (transparent.length === 0 && config.policies.length > 0) {
    issues.push({ path: ['policies'], anchor: 'key', message: 'policies need a listener with mode "transparent" to act on the connections they capture' });
  }
  unique(config.policies.map((p, i) => ({ value: p.name, path: ['policies', i, 'name'] })), 'policy name', value);
  const pathNames = new Set(config.paths.map((p) => p.name));
  let catchAll: number | undefined;
  config.policies.forEach((p, i) => {
    if (catchAll !== undefined) {
      value(['policies', i, 'name'], `unreachable: policy "${config.policies[catchAll]!.name}" (policies[${catchAll}]) has no match and takes every connection first; a policy without match must be the last one`);
    }
    if (catchAll === undefined && isCatchAll(p.match)) catchAll = i;
    if (p.fallback !== undefined && p.action !== 'mptcp') {
      issues.push({ path: ['policies', i, 'fallback'], anchor: 'key', message: `"fallback" only applies to action "mptcp" (this policy's action is "${p.action}")` });
    }
    (p.paths ?? []).forEach((name, k) => {
      if (!pathNames.has(name)) {
        value(['policies', i, 'paths', k], `no path named "${name}" in paths[]${pathNames.size === 0 ? ' (none are configured)' : `: known are ${[...pathNames].join(', ')}`}`);
      }
    });
    const families = (cidrs: string[] | undefined) => new Set((cidrs ?? []).map((c) => (c.includes(':') ? 6 : 4)));
    const destination = families(p.match?.destination);
    const source = families(p.match?.source);
    if (destination.size > 0 && source.size > 0 && ![...destination].some((f) => source.has(f))) {
      value(['policies', i, 'match'], 'matches nothing: "destination" and "source" share no address family');
    }
  });

  // Every address braid binds; later ones are reported against the first that holds the port.
  // Listeners bind IPv6 with IPV6_V6ONLY (the data plane's choice); the admin endpoint is Node's
  // http server, where "::" is dual-stack.
  const binds: Bind[] = [];
  config.listeners.forEach((l, i) => {
    if (l.listen === undefined) return; // transparent modes bind ephemeral ports; a missing listen is reported above
    binds.push({ path: ['listeners', i, 'listen'], label: `listener "${l.name}"`, address: bindAddress(l.listen), dualStack: false });
  });
  if (config.admin.listen !== 'off') {
    binds.push({ path: ['admin', 'listen'], label: 'the admin endpoint', address: bindAddress(config.admin.listen), dualStack: true });
  }
  binds.forEach((b, i) => {
    const clash = binds.slice(0, i).find((earlier) => overlaps(earlier, b));
    if (clash !== undefined) {
      value(b.path, `${formatSocketAddress(b.address)} collides with ${formatSocketAddress(clash.address)} of ${clash.label} (${formatPath(clash.path)}): both cannot bind`);
    }
  });

  // Schedulers steer with per-connection backup flags, which only the userspace path manager sets.
  const schedulers: { path: KeyPath; value: string }[] = [{ path: ['mptcp', 'scheduler'], value: config.mptcp.scheduler }];
  config.listeners.forEach((l, i) => {
    if (l.scheduler !== undefined) schedulers.push({ path: ['listeners', i, 'scheduler'], value: l.scheduler });
    (l.paths ?? []).forEach((name, k) => {
      if (!pathNames.has(name)) value(['listeners', i, 'paths', k], `no path named "${name}" in paths[]${pathNames.size === 0 ? ' (none are configured)' : `: known are ${[...pathNames].join(', ')}`}`);
    });
  });
  config.policies.forEach((p, i) => {
    if (p.scheduler === undefined) return;
    if (p.action !== 'mptcp') issues.push({ path: ['policies', i, 'scheduler'], anchor: 'key', message: `"scheduler" only applies to action "mptcp" (this policy's action is "${p.action}")` });
    schedulers.push({ path: ['policies', i, 'scheduler'], value: p.scheduler });
  });
  for (const s of schedulers) {
    if (s.value !== 'default' && config.mptcp.pathManager !== 'userspace') {
      value(s.path, `scheduler "${s.value}" needs mptcp.pathManager: userspace (it flags subflows backup per connection)`);
    }
  }
  if (config.mptcp.pathManager === 'userspace' && config.paths.length === 0) {
    value(['mptcp', 'pathManager'], 'the userspace path manager needs paths[] (it opens one subflow per path)');
  }
  const reevaluate = parseDuration(config.topology.reevaluate);
  if (reevaluate.ok && reevaluate.ms === 0) value(['topology', 'reevaluate'], 'must be more than 0');

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
