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

/** nftables chain names; status reports hooks from the table itself. */
export const CHAINS = { outbound: 'outbound', reject: 'outbound_reject', inbound: 'inbound' } as const;

const COMMENT_PREFIX = 'braid:';
/** Names of the rules braid adds beside the policies. */
export const OWN_RULES = { self: '@self', local: '@local', reject: '@reject', inbound: '@inbound' } as const;

export interface ListenerPorts {
  v4: number;
  v6: number;
}

export interface RulesetInput {
  policies: readonly RuntimePolicy[];
  /** The braid listener ports of each mptcp/tcp policy, by policy name. */
  outboundPorts: ReadonlyMap<string, ListenerPorts>;
  /** transparent-inbound: application port -> braid listener ports. */
  inbound: readonly ({ port: number } & ListenerPorts)[];
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

  if (input.policies.length > 0) {
    const rules = [
      `meta mark ${hex(input.mark)} counter return comment "${ruleComment(OWN_RULES.self)}"`,
      `fib daddr type local counter return comment "${ruleComment(OWN_RULES.local)}"`,
      ...input.policies.flatMap((p) => policyRules(p, input.outboundPorts.get(p.name), hex(input.rejectMark))),
    ];
    chains.push(chain(CHAINS.outbound, 'type nat hook output priority -100; policy accept;', rules));
    if (input.policies.some((p) => p.action === 'reject')) {
      // Rejected in a filter chain: a nat chain cannot reject. The reset reaches the local socket,
      // so connect() fails with ECONNREFUSED.
      const reject = `meta l4proto tcp meta mark ${hex(input.rejectMark)} counter reject with tcp reset comment "${ruleComment(OWN_RULES.reject)}"`;
      chains.push(chain(CHAINS.reject, 'type filter hook output priority 0; policy accept;', [reject]));
    }
  }

  if (input.inbound.length > 0) {
    const rules = input.inbound.flatMap((i) =>
      ([4, 6] as const).map(
        (f) => `${nfproto(f)} tcp dport ${i.port} counter redirect to :${f === 4 ? i.v4 : i.v6} comment "${ruleComment(OWN_RULES.inbound)}"`,
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

/** One or more rules for one policy: one per address family it needs, times one per cgroup. */
function policyRules(p: RuntimePolicy, ports: ListenerPorts | undefined, rejectMark: string): string[] {
  const redirect = p.action === 'mptcp' || p.action === 'tcp';
  if (redirect && ports === undefined) throw new Error(`compileRuleset: no listener ports for policy "${p.name}"`);
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
  } else if (redirect) {
    heads = ([4, 6] as const).map((f) => ({ family: f, text: [nfproto(f)] }));
  } else {
    heads = [{ family: undefined, text: [] }];
  }

  const tail = [
    m.ports.length > 0 ? `tcp dport ${set(m.ports.map(portText))}` : 'meta l4proto tcp',
    ...(m.uid.length > 0 ? [`meta skuid ${set(m.uid.map(String))}`] : []),
  ];
  const cgroups = m.cgroup.length > 0 ? m.cgroup.map((c) => [`socket cgroupv2 level ${c.split('/').length} ${JSON.stringify(c)}`]) : [[]];

  const action = (family: 4 | 6 | undefined): string => {
    switch (p.action) {
      case 'mptcp':
      case 'tcp':
        return `redirect to :${family === 6 ? ports!.v6 : ports!.v4}`;
      case 'bypass':
        return 'return';
      case 'reject':
        return `meta mark set ${rejectMark} accept`;
    }
  };
  return heads.flatMap((h) =>
    cgroups.map((cg) => [...h.text, ...tail, ...cg, 'counter', action(h.family), `comment "${ruleComment(p.name)}"`].join(' ')),
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
