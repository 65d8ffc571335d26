// Config listeners -> the native listeners that implement them. Pure; table-tested.
//
// forward / inbound: one native listener each.
// transparent: per policy that sends traffic to braid (mptcp, tcp) and per address family, one
//   listener for this node's own traffic (capture: local) and one for traffic routed through it
//   (capture: routed), on ephemeral ports the ruleset then points at.
// transparent-inbound: per captured port, one MPTCP listener per family on the wildcard address,
//   delivering to the target host on that port.
//
// Each planned listener has a `key`: equal keys mean the same socket may keep serving across a
// reload, so unchanged listeners keep their port and their connections.
import type { RuntimeConfig, RuntimeListener, RuntimePolicy } from '../config';
import type { NativeListenerSpec } from './types';

export type ListenerRole =
  | { kind: 'address'; listener: string }
  | { kind: 'transparent'; listener: string; policy: string; family: 4 | 6 }
  | { kind: 'transparent-routed'; listener: string; policy: string; family: 4 | 6 }
  | { kind: 'transparent-inbound'; listener: string; appPort: number; family: 4 | 6 };

export interface PlannedListener {
  key: string;
  role: ListenerRole;
  /** The spec without its id; ids are handed out when the listener is opened. */
  spec: Omit<NativeListenerSpec, 'id'>;
}

const LOOPBACK = { 4: '127.0.0.1', 6: '::1' } as const;
const WILDCARD = { 4: '0.0.0.0', 6: '::' } as const;
const FAMILIES = [4, 6] as const;

export function planListeners(config: RuntimeConfig): PlannedListener[] {
  return config.listeners.flatMap((l) => planOne(l, config.policies));
}

function planOne(l: RuntimeListener, policies: readonly RuntimePolicy[]): PlannedListener[] {
  switch (l.mode) {
    case 'forward':
    case 'inbound': {
      const spec: Omit<NativeListenerSpec, 'id'> = {
        name: l.name,
        mode: l.mode,
        listen: { host: l.listen.host, port: l.listen.port },
        // forward: plain TCP from the local app, MPTCP to the far side; inbound: the reverse.
        listenProtocol: l.mode === 'forward' ? 'tcp' : 'mptcp',
        target: { host: l.target.host, port: l.target.port },
        targetProtocol: l.mode === 'forward' ? 'mptcp' : 'tcp',
        backlog: l.backlog,
        originalDestination: false,
        tproxy: false,
        fallback: 'allow',
        policy: '',
      };
      return [{ key: keyOf(spec), role: { kind: 'address', listener: l.name }, spec }];
    }
    case 'transparent': {
      const sending = policies.filter((p) => p.action === 'mptcp' || p.action === 'tcp');
      const local = l.capture.includes('local')
        ? sending.flatMap((p) => FAMILIES.map((family) => transparent(l.name, l.backlog, p, family, false)))
        : [];
      // Routed traffic has no local socket owner: policies on uid or cgroup never match it.
      const routed = l.capture.includes('routed')
        ? sending
            .filter((p) => p.match.uid.length === 0 && p.match.cgroup.length === 0)
            .flatMap((p) => FAMILIES.map((family) => transparent(l.name, l.backlog, p, family, true)))
        : [];
      return [...local, ...routed];
    }
    case 'transparent-inbound':
      return l.ports.flatMap((appPort) =>
        FAMILIES.map((family) => {
          const spec: Omit<NativeListenerSpec, 'id'> = {
            name: l.name,
            mode: 'inbound',
            listen: { host: WILDCARD[family], port: 0 },
            listenProtocol: 'mptcp',
            target: { host: l.targetHost, port: appPort },
            targetProtocol: 'tcp',
            backlog: l.backlog,
            originalDestination: false,
            tproxy: false,
            fallback: 'allow',
            policy: '',
          };
          return { key: keyOf(spec), role: { kind: 'transparent-inbound', listener: l.name, appPort, family }, spec };
        }),
      );
  }
}

// local: nftables REDIRECT lands IPv4 on 127.0.0.1 and IPv6 on ::1 and the listener reads
// SO_ORIGINAL_DST. routed: TPROXY hands over the connection with its destination intact, to an
// IP_TRANSPARENT listener on the wildcard address.
function transparent(name: string, backlog: number, p: RuntimePolicy, family: 4 | 6, routed: boolean): PlannedListener {
  const spec: Omit<NativeListenerSpec, 'id'> = {
    name,
    mode: 'forward',
    listen: { host: routed ? WILDCARD[family] : LOOPBACK[family], port: 0 },
    listenProtocol: 'tcp',
    target: { host: WILDCARD[family], port: 0 }, // unused: the original destination is dialled
    targetProtocol: p.action === 'mptcp' ? 'mptcp' : 'tcp',
    backlog,
    originalDestination: true,
    tproxy: routed,
    fallback: p.fallback,
    policy: p.name,
  };
  const kind = routed ? 'transparent-routed' : 'transparent';
  return { key: keyOf(spec), role: { kind, listener: name, policy: p.name, family }, spec };
}

function keyOf(spec: Omit<NativeListenerSpec, 'id'>): string {
  return JSON.stringify(spec);
}

export interface OpenListener {
  id: number;
  port: number;
  planned: PlannedListener;
}

/** What the nftables ruleset needs from the open listeners: which port serves what. */
export function redirectPorts(open: readonly OpenListener[]): {
  outboundPorts: Map<string, { v4: number; v6: number }>;
  routedPorts: Map<string, { v4: number; v6: number }>;
  inbound: { port: number; v4: number; v6: number }[];
} {
  const outboundPorts = new Map<string, { v4: number; v6: number }>();
  const routedPorts = new Map<string, { v4: number; v6: number }>();
  const inbound = new Map<number, { port: number; v4: number; v6: number }>();
  for (const o of open) {
    const r = o.planned.role;
    if (r.kind === 'transparent' || r.kind === 'transparent-routed') {
      const ports = r.kind === 'transparent' ? outboundPorts : routedPorts;
      const entry = ports.get(r.policy) ?? { v4: 0, v6: 0 };
      entry[r.family === 4 ? 'v4' : 'v6'] = o.port;
      ports.set(r.policy, entry);
    } else if (r.kind === 'transparent-inbound') {
      const entry = inbound.get(r.appPort) ?? { port: r.appPort, v4: 0, v6: 0 };
      entry[r.family === 4 ? 'v4' : 'v6'] = o.port;
      inbound.set(r.appPort, entry);
    }
  }
  return { outboundPorts, routedPorts, inbound: [...inbound.values()] };
}
