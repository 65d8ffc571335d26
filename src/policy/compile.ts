// Policies -> the complete `nft -f` input of the table braid owns (docs/transparent.md).
// One transaction: create the table if absent, delete it, add it anew, so a stale table of a
// crashed braid is replaced atomically and an install never leaves a half-built one.
// Every rule has a counter and a comment "braid:<policy>" that status maps counters back by;
// rules braid adds for itself use names starting with '@', which no policy name can.
import type { Cidr, PortRange, RuntimePolicy } from '../config';
import { formatCidr } from '../config';

export const TABLE = 'braid';
/** SO_MARK of braid's own dialled sockets ("br"): never captured. */
export const BYPASS_MARK = 0x6272;
/** Set on the first packet of a rejected connection; a filter rule resets it. */
export const REJECT_MARK = 0x6273;
/**
 * fwmark of routed packets braid takes with TPROXY ("bt"): set on the packet that TPROXY hands to a
 * braid listener and on every later packet of its connection, so that policy routing
 * (`ip rule fwmark TPROXY_MARK lookup ROUTING_TABLE`) delivers them locally although their
 * destination is another host's address.
 */
export const TPROXY_MARK = 0x6274;
/** The routing table that rule looks up: one route, `local default dev lo` (per family). 0x6274 again. */
export const ROUTING_TABLE = 25204;

/** nftables chain names; status reports hooks from the table itself. */
export const CHAINS = { outbound: 'outbound', reject: 'outbound_reject', inbound: 'inbound', routed: 'routed' } as const;

const COMMENT_PREFIX = 'braid:';
/** Names of the rules braid adds beside the policies. */
export const OWN_RULES = {
  self: '@self',
  local: '@local',
  reply: '@reply',
  reject: '@reject',
  inbound: '@inbound',
  nonTcp: '@non-tcp',
  established: '@established',
  nonSyn: '@non-syn',
} as const;

export interface ListenerPorts {
  v4: number;
  v6: number;
}

/** capture: routed. */
export interface RoutedInput {
  /** The TPROXY (IP_TRANSPARENT) listener ports of each mptcp/tcp policy, by policy name. */
  ports: ReadonlyMap<string, ListenerPorts>;
  /** fwmark that policy routing sends to the local route (TPROXY_MARK). */
  mark: number;
}

export interface RulesetInput {
  policies: readonly RuntimePolicy[];
  /** The braid listener ports of each mptcp/tcp policy, by policy name (capture: local). */
  outboundPorts: ReadonlyMap<string, ListenerPorts>;
  /** transparent-inbound: application port -> braid listener ports. */
  inbound: readonly ({ port: number } & ListenerPorts)[];
  /** capture includes local: the output-hook chain for the policies. Default true. */
  local?: boolean;
  /** capture includes routed: the prerouting TPROXY chain for the policies. */
  routed?: RoutedInput;
  mark: number;
  rejectMark: number;
  table: string;
}

export function ruleComment(name: string): string {
  return `${COMMENT_PREFIX}${name}`;
}

/** The policy (or '@' rule) a comment names; undefined for a rule braid did not write. */
export function policyOfComment(comment: string | undefined): string | undefined {
  return comment?.startsWith(COMMENT_PREFIX) === true ? comment.slice(COMMENT_PREFIX.length) : undefined;
}

export function compileRuleset(input: RulesetInput): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(input.table)) throw new Error(`compileRuleset: "${input.table}" is not a table name`);
  const hex = (n: number): string => `0x${n.toString(16)}`;
  const chains: string[] = [];

  if (input.policies.length > 0 && (input.local ?? true)) {
    const rules = [
      `meta mark ${hex(input.mark)} counter return comment "${ruleComment(OWN_RULES.self)}"`,
      `fib daddr type local counter return comment "${ruleComment(OWN_RULES.local)}"`,
      // A reset the kernel sends for someone else's connection (braid's routed reject, a host
      // firewall's reject of forwarded traffic) leaves through this hook as a reply; a policy
      // that redirected it would bind NAT to that connection.
      `ct direction reply counter return comment "${ruleComment(OWN_RULES.reply)}"`,
      ...input.policies.flatMap((p) => policyRules(p, localAction(p, input.outboundPorts.get(p.name), hex(input.rejectMark)))),
    ];
    chains.push(chain(CHAINS.outbound, 'type nat hook output priority -100; policy accept;', rules));
    if (input.policies.some((p) => p.action === 'reject')) {
      // Rejected in a filter chain: a nat chain cannot reject. The reset reaches the local socket,
      // so connect() fails with ECONNREFUSED.
      const reject = `meta l4proto tcp meta mark ${hex(input.rejectMark)} counter reject with tcp reset comment "${ruleComment(OWN_RULES.reject)}"`;
      chains.push(chain(CHAINS.reject, 'type filter hook output priority 0; policy accept;', [reject]));
    }
  }

  // Even without policies (a draining braid): established TPROXY flows keep their mark. (The
  // kernel's early demux usually finds their socket anyway; this holds without it too.)
  if (input.routed !== undefined) {
    const routed = input.routed;
    const mark = hex(routed.mark);
    const own = (rule: string, name: string) => `${rule} comment "${ruleComment(name)}"`;
    // A filter chain sees every packet, not only a connection's first as nat chains do, so the
    // policies see SYNs only: later packets of a connection braid took match its socket; the rest
    // (a bypassed connection's, replies such as the SYN-ACK of any forwarded connection, those of
    // connections older than the table) go on untouched instead of being handed to a listener
    // that would reset them.
    const rules = [
      own('meta l4proto != tcp counter return', OWN_RULES.nonTcp),
      own('fib daddr type local counter return', OWN_RULES.local),
      own(`socket transparent 1 counter meta mark set ${mark} accept`, OWN_RULES.established),
      own('tcp flags & (fin | syn | rst | ack) != syn counter return', OWN_RULES.nonSyn),
      // uid and cgroup describe a local socket's owner: a routed packet has none, so such a
      // policy never matches it (as decide() says for a connection without uid or cgroup).
      ...input.policies.filter((p) => p.match.uid.length === 0 && p.match.cgroup.length === 0).flatMap((p) => policyRules(p, routedAction(p, routed.ports.get(p.name), mark))),
    ];
    // mangle priority (-150): before the nat prerouting chains (-100), as TPROXY wants.
    chains.push(chain(CHAINS.routed, 'type filter hook prerouting priority mangle; policy accept;', rules));
  }

  if (input.inbound.length > 0) {
    // Only connections to this node: a routed connection to the same port elsewhere is not ours.
    const rules = input.inbound.flatMap((i) =>
      ([4, 6] as const).map(
        (f) => `${nfproto(f)} fib daddr type local tcp dport ${i.port} counter redirect to :${f === 4 ? i.v4 : i.v6} comment "${ruleComment(OWN_RULES.inbound)}"`,
      ),
    );
    chains.push(chain(CHAINS.inbound, 'type nat hook prerouting priority -100; policy accept;', rules));
  }

  const table = `inet ${input.table}`;
  return [`table ${table} {}`, `delete table ${table}`, `table ${table} {`, chains.join('\n\n'), '}', ''].join('\n');
}

function chain(name: string, header: string, rules: readonly string[]): string {
  return [`\tchain ${name} {`, `\t\t${header}`, ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
}

/** The end of a policy's rules, per family (undefined: the rule is for either). */
type Action = { redirect: boolean; text: (family: 4 | 6 | undefined) => string };

/** capture local (nat output chain): redirect to braid's loopback listener, or mark for the reject chain. */
function localAction(p: RuntimePolicy, ports: ListenerPorts | undefined, rejectMark: string): Action {
  const redirect = p.action === 'mptcp' || p.action === 'tcp';
  if (redirect && ports === undefined) throw new Error(`compileRuleset: no listener ports for policy "${p.name}"`);
  return {
    redirect,
    text: (family) => {
      switch (p.action) {
        case 'mptcp':
        case 'tcp':
          return `redirect to :${family === 6 ? ports!.v6 : ports!.v4}`;
        case 'bypass':
          return 'return';
        case 'reject':
          return `meta mark set ${rejectMark} accept`;
      }
    },
  };
}

/** capture routed (filter prerouting chain): TPROXY to braid's transparent listener and mark for local delivery. */
function routedAction(p: RuntimePolicy, ports: ListenerPorts | undefined, mark: string): Action {
  const redirect = p.action === 'mptcp' || p.action === 'tcp';
  if (redirect && ports === undefined) throw new Error(`compileRuleset: no TPROXY listener ports for policy "${p.name}"`);
  return {
    redirect,
    text: (family) => {
      switch (p.action) {
        case 'mptcp':
        case 'tcp':
          return family === 6 ? `tproxy ip6 to :${ports!.v6} meta mark set ${mark} accept` : `tproxy ip to :${ports!.v4} meta mark set ${mark} accept`;
        case 'bypass':
          // accept ends this chain; the packet is forwarded as it is (the host's own firewall still applies).
          return 'accept';
        case 'reject':
          // The kernel takes reject in prerouting: the sender gets the reset, nothing is forwarded.
          return 'reject with tcp reset';
      }
    },
  };
}

/** One or more rules for one policy: one per address family it needs, times one per cgroup. */
function policyRules(p: RuntimePolicy, action: Action): string[] {
  const m = p.match;
  const addressed = m.destination.length > 0 || m.source.length > 0;
  const families = ([4, 6] as const).filter((f) => (m.destination.length === 0 || m.destination.some((c) => c.family === f)) && (m.source.length === 0 || m.source.some((c) => c.family === f)));

  // Each entry: the family-specific start of a rule and its family (undefined: either).
  let heads: { text: string[]; family: 4 | 6 | undefined }[];
  if (addressed) {
    heads = families.map((f) => ({
      family: f,
      text: [
        ...(families.length > 1 ? [nfproto(f)] : []),
        ...addressMatch(f, 'saddr', m.source),
        ...addressMatch(f, 'daddr', m.destination),
      ],
    }));
  } else if (action.redirect) {
    heads = ([4, 6] as const).map((f) => ({ family: f, text: [nfproto(f)] }));
  } else {
    heads = [{ family: undefined, text: [] }];
  }

  const tail = [
    m.ports.length > 0 ? `tcp dport ${set(m.ports.map(portText))}` : 'meta l4proto tcp',
    ...(m.uid.length > 0 ? [`meta skuid ${set(m.uid.map(String))}`] : []),
  ];
  const cgroups = m.cgroup.length > 0 ? m.cgroup.map((c) => [`socket cgroupv2 level ${c.split('/').length} ${JSON.stringify(c)}`]) : [[]];

  return heads.flatMap((h) =>
    cgroups.map((cg) => [...h.text, ...tail, ...cg, 'counter', action.text(h.family), `comment "${ruleComment(p.name)}"`].join(' ')),
  );
}

function nfproto(f: 4 | 6): string {
  return `meta nfproto ipv${f}`;
}

function addressMatch(f: 4 | 6, field: 'saddr' | 'daddr', cidrs: readonly Cidr[]): string[] {
  if (cidrs.length === 0) return [];
  return [`${f === 4 ? 'ip' : 'ip6'} ${field} ${set(cidrs.filter((c) => c.family === f).map(formatCidr))}`];
}

function portText(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
}

function set(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}
