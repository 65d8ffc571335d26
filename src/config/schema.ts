// The configuration schema: the one description of every key, its type, default and
// meaning. TypeBox builds it as JSON Schema, so the same object is used by ajv, published
// as schema/braid.schema.json (editors, Helm) and rendered into docs/config.md.
//
// BraidConfigSchema describes the config *after* defaults are applied: every key that has
// a default is required there, so Static<> gives the type the rest of braid sees.
// inputSchema() derives what a file may contain: the same, minus `required` for keys with
// a default.
import { Type, type Static } from '@sinclair/typebox';
import { CHECKS, type StringCheck } from './checks';
import { DEFAULTS } from './defaults';

function checked(check: StringCheck, options: { description: string; default?: string }) {
  return Type.String({ pattern: check.pattern, format: check.format, ...options });
}

function stringEnum<const T extends readonly string[]>(values: T, options: { description: string; default?: T[number] }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

function object<T extends Parameters<typeof Type.Object>[0]>(properties: T, options: { description: string; default?: unknown }) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

export const TRANSPORTS = ['kernel', 'dpdk'] as const;
export const LISTENER_MODES = ['forward', 'inbound', 'transparent', 'transparent-inbound'] as const;
export const POLICY_ACTIONS = ['mptcp', 'tcp', 'bypass', 'reject'] as const;
export const FALLBACKS = ['allow', 'deny'] as const;
export const CAPTURES = ['local', 'routed'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const PATH_MANAGERS = ['kernel', 'userspace'] as const;
export const SCHEDULERS = ['default', 'numa-local', 'backup-ordered'] as const;

const SCHEDULER_DESCRIPTION =
  'Which subflows carry data, chosen per connection by flagging the others backup (MP_PRIO, so the peer sends where this node wants to receive). default: the kernel\'s choice (paths flagged `backup` only as configured). numa-local: the paths whose NIC is on the NUMA node of the local application end are active, the others backup; re-evaluated while the connection lives. backup-ordered: the first usable path of `paths` (in order) is active, the rest backup. Anything but default needs `mptcp.pathManager: userspace`.';

const PathSchema = object(
  {
    name: checked(CHECKS.name, { description: 'Name of the path, used in metrics and logs. Unique among paths.' }),
    interface: checked(CHECKS.interface, {
      description:
        'Linux network interface this path leaves by (1 to 15 characters, no "/", ":" or whitespace). Its addresses become MPTCP endpoints bound to it. Unique among paths.',
    }),
    backup: Type.Boolean({
      default: DEFAULTS.path.backup,
      description:
        'Flag the endpoint "backup": the peer sends on this path only while no non-backup path is up (MP_PRIO).',
    }),
    signal: Type.Boolean({
      default: DEFAULTS.path.signal,
      description: "Announce this path's addresses to peers (ADD_ADDR) so they can open subflows to them.",
    }),
    subflow: Type.Boolean({
      default: DEFAULTS.path.subflow,
      description: 'Open subflows from this path to the peer on connections braid dials.',
    }),
    numaNode: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1023,
        description:
          "NUMA node of this path's NIC. Default: read from sysfs (<topology.sysfsRoot>/class/net/<interface>/device/numa_node); set it when sysfs has none (virtual NICs) or is wrong.",
      }),
    ),
  },
  { description: 'One network path of this node: an interface whose addresses carry MPTCP subflows.' },
);

const PORT = { minimum: 1, maximum: 65535 } as const;

const ListenerSchema = object(
  {
    name: checked(CHECKS.name, { description: 'Name of the listener, used in metrics and logs. Unique among listeners.' }),
    mode: stringEnum(LISTENER_MODES, {
      description:
        'forward: accept plain TCP from local applications and dial `upstream` over MPTCP. inbound: accept MPTCP (and plain TCP) from peers and deliver to the local `target` over TCP. transparent: capture outgoing TCP connections (those of this node and, with `capture: [routed]`, those it forwards) as `policies` say (nftables) and dial their original destination; takes no address keys. transparent-inbound: capture incoming connections to `ports` (nftables) and deliver them to `target` on the same port. At most one transparent listener; it and `policies` require each other.',
    }),
    listen: Type.Optional(
      checked(CHECKS.listenAddress, {
        description:
          'forward and inbound only, and required there: address to accept connections on, "ipv4:port" or "[ipv6]:port", numeric only; port 0 picks a free port. No two listeners (nor admin.listen) may bind the same or an overlapping address. Transparent listeners bind ephemeral ports of their own.',
      }),
    ),
    upstream: Type.Optional(
      checked(CHECKS.dialAddress, {
        description:
          'forward only, and required there: the remote address to dial over MPTCP, "ipv4:port" or "[ipv6]:port" (port 1..65535).',
      }),
    ),
    target: Type.Optional(
      checked(CHECKS.target, {
        description:
          `inbound: required, the local address to deliver to over TCP, "ipv4:port" or "[ipv6]:port" (port 1..65535). transparent-inbound: the numeric host to deliver to, without a port (each connection keeps its port); default ${DEFAULTS.listener.transparentInboundTarget}. Not allowed with forward or transparent.`,
      }),
    ),
    ports: Type.Optional(
      Type.Array(Type.Integer({ ...PORT, description: 'A TCP port.' }), {
        minItems: 1,
        description:
          'transparent-inbound only, and required there: the local TCP ports whose incoming connections braid takes (1..65535, each once across all transparent-inbound listeners).',
      }),
    ),
    capture: Type.Optional(
      Type.Array(stringEnum(CAPTURES, { description: 'A kind of traffic to capture.' }), {
        minItems: 1,
        description:
          `transparent only: which connections \`policies\` apply to, each kind once. local: connections of this node's own processes (nftables output hook, REDIRECT). routed: connections this node forwards, e.g. from pods or containers routed through it (prerouting hook, TPROXY); there a connection has no local socket owner, so policies that match on \`uid\` or \`cgroup\` never match it and are skipped. Routed capture sees every connection the node forwards, whichever side opened it: give policies a \`source\` (e.g. the pod CIDR) to take only the pods' outgoing ones. Default [${DEFAULTS.listener.capture.join(', ')}].`,
      }),
    ),
    scheduler: Type.Optional(
      stringEnum(SCHEDULERS, {
        description: `forward, inbound and transparent-inbound: the scheduler of this listener's connections (transparent listeners take it from their policies). Default: mptcp.scheduler. ${SCHEDULER_DESCRIPTION}`,
      }),
    ),
    paths: Type.Optional(
      Type.Array(checked(CHECKS.name, { description: 'A name from paths[].' }), {
        minItems: 1,
        description: 'forward, inbound and transparent-inbound: the paths in order of preference for scheduler backup-ordered (first is primary). Default: the order of paths[].',
      }),
    ),
    backlog: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: DEFAULTS.listener.backlog,
      description: 'listen() backlog: connections the kernel queues before braid accepts them (capped by net.core.somaxconn).',
    }),
  },
  { description: 'One listening socket and where its connections go.' },
);

const MatchSchema = object(
  {
    destination: Type.Optional(
      Type.Array(checked(CHECKS.cidr, { description: 'A CIDR (a bare address is one host).' }), {
        minItems: 1,
        description: 'Destination CIDRs, IPv4 or IPv6, e.g. "198.18.8.0/24", "2001:2::/48". A connection of a family none of them has does not match.',
      }),
    ),
    ports: Type.Optional(
      Type.Array(Type.Union([Type.Integer(PORT), checked(CHECKS.portRange, { description: 'A range "FROM-TO", FROM <= TO.' })]), {
        minItems: 1,
        description: 'Destination TCP ports: a port (6379) or a range ("7000-7100", inclusive).',
      }),
    ),
    source: Type.Optional(
      Type.Array(checked(CHECKS.cidr, { description: 'A CIDR (a bare address is one host).' }), {
        minItems: 1,
        description: "Source CIDRs: the address a local connection leaves from, or a routed connection's sender (e.g. the pod's address).",
      }),
    ),
    uid: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: 4294967294, description: 'A user id.' }), {
        minItems: 1,
        description: 'User ids owning the connecting socket (nftables meta skuid), 0..4294967294. Local connections only: routed traffic has no local owner, so a policy with `uid` never matches it.',
      }),
    ),
    cgroup: Type.Optional(
      Type.Array(checked(CHECKS.cgroup, { description: 'A cgroupv2 path.' }), {
        minItems: 1,
        description:
          'cgroupv2 paths below the cgroup root, without a leading "/", e.g. "system.slice/app.service": the connecting socket\'s cgroup is that one or below it. The cgroups must exist when braid installs its rules. Local connections only: a policy with `cgroup` never matches routed traffic.',
      }),
    ),
  },
  {
    description:
      'What the policy applies to. Keys are ANDed, list items within one key ORed. Absent or empty: every connection (such a policy must be the last one).',
  },
);

const PolicySchema = object(
  {
    name: checked(CHECKS.name, { description: 'Name of the policy, a label in metrics, logs and `braid redirect status`. Unique among policies.' }),
    match: Type.Optional(MatchSchema),
    action: stringEnum(POLICY_ACTIONS, {
      description:
        'mptcp: carry the connection through braid over MPTCP. tcp: through braid over plain TCP. bypass: leave it alone. reject: refuse it (the application sees ECONNREFUSED).',
    }),
    paths: Type.Optional(
      Type.Array(checked(CHECKS.name, { description: 'A name from paths[].' }), {
        description: 'Names of paths (from `paths`) in order of preference, for scheduler backup-ordered (first is primary). Default: the order of paths[].',
      }),
    ),
    scheduler: Type.Optional(
      stringEnum(SCHEDULERS, { description: `mptcp only: the scheduler of this policy's connections. Default: mptcp.scheduler. ${SCHEDULER_DESCRIPTION}` }),
    ),
    fallback: Type.Optional(
      stringEnum(FALLBACKS, {
        description: `mptcp only: allow: relay over plain TCP when the peer cannot do MPTCP; deny: reset the client instead. Default ${DEFAULTS.policy.fallback}.`,
      }),
    ),
  },
  { description: 'One rule for outgoing connections captured by the transparent listener; the first policy that matches decides.' },
);

export const BraidConfigSchema = object(
  {
    transport: stringEnum(TRANSPORTS, {
      default: DEFAULTS.transport,
      description:
        'How MPTCP is carried. kernel: Linux MPTCP sockets and the kernel path manager. dpdk: braid\'s user-space stack (not available yet).',
    }),
    workers: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 256 })], {
      default: DEFAULTS.workers,
      description: 'Relay worker threads: "auto" (one per available CPU) or an integer from 1 to 256.',
    }),
    paths: Type.Array(PathSchema, {
      default: DEFAULTS.paths,
      description:
        "This node's network paths. braid turns each into kernel MPTCP endpoints in its network namespace while it runs. Empty: leave the endpoints as they are.",
    }),
    mptcp: object(
      {
        subflows: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 8 })], {
          default: DEFAULTS.mptcp.subflows,
          description:
            'Most additional subflows per MPTCP connection (kernel limit "subflows", 0..8). "auto": one per path beyond the first (at least 1), so each path carries one subflow rather than two racing on one link.',
        }),
        addAddrAccepted: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 8 })], {
          default: DEFAULTS.mptcp.addAddrAccepted,
          description:
            'Most peer address announcements (ADD_ADDR) accepted per connection (kernel limit "add_addr_accepted", 0..8). "auto": one per path beyond the first (at least 1).',
        }),
        pathManager: stringEnum(PATH_MANAGERS, {
          default: DEFAULTS.mptcp.pathManager,
          description:
            "kernel: the kernel's in-kernel path manager works from braid's endpoints. userspace: braid sets net.mptcp.path_manager=userspace in its network namespace while it runs and manages every MPTCP connection there itself: one subflow per path bound to the path's interface, announcements of the other paths to peers that opened a connection, a lost subflow re-created when its path comes back, per-connection backup flags for the schedulers. Needs paths.",
        }),
        scheduler: stringEnum(SCHEDULERS, { default: DEFAULTS.mptcp.scheduler, description: `The scheduler of connections whose listener or policy names none. ${SCHEDULER_DESCRIPTION}` }),
      },
      {
        default: DEFAULTS.mptcp,
        description: 'How MPTCP connections get their subflows: the path manager and the kernel limits braid sets in its network namespace while it runs, and the default scheduler.',
      },
    ),
    topology: object(
      {
        sysfsRoot: Type.String({
          minLength: 1,
          default: DEFAULTS.topology.sysfsRoot,
          description: 'Where to read the NUMA topology: <root>/devices/system/node/node*/cpulist and <root>/class/net/<interface>/device/numa_node. Another root describes another machine (tests).',
        }),
        reevaluate: checked(CHECKS.duration, {
          default: DEFAULTS.topology.reevaluate,
          description: 'How often numa-local connections look again at where their application runs (and move when it moved). Must be more than 0.',
        }),
      },
      { default: DEFAULTS.topology, description: 'NUMA topology, for scheduler numa-local and for grouping relay workers per node.' },
    ),
    listeners: Type.Array(ListenerSchema, {
      minItems: 1,
      description: 'The sockets braid accepts connections on; at least one.',
    }),
    policies: Type.Array(PolicySchema, {
      default: DEFAULTS.policies,
      description:
        'What the transparent listener does with outgoing connections, in order: the first policy that matches decides. Required with a transparent listener, not allowed without one.',
    }),
    limits: object(
      {
        maxConnections: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: DEFAULTS.limits.maxConnections,
          description: 'Most open connections across all listeners; further accepts are closed at once and counted as refused.',
        }),
      },
      { default: DEFAULTS.limits, description: 'Resource limits.' },
    ),
    timeouts: object(
      {
        connect: checked(CHECKS.duration, {
          default: DEFAULTS.timeouts.connect,
          description: 'How long dialling the upstream or target may take before braid gives up and closes the client connection. Must be more than 0.',
        }),
        idle: checked(CHECKS.duration, {
          default: DEFAULTS.timeouts.idle,
          description: 'Close a connection after no bytes moved in either direction for this long; "0s" disables.',
        }),
        drain: checked(CHECKS.duration, {
          default: DEFAULTS.timeouts.drain,
          description: 'On SIGTERM, how long open connections may go on before braid aborts them; listeners close at once.',
        }),
      },
      {
        default: DEFAULTS.timeouts,
        description: 'Durations: a whole number and a unit ms, s, m or h (e.g. 500ms, 5s, 15m, 1h), at most about 596h.',
      },
    ),
    admin: object(
      {
        listen: checked(CHECKS.adminListen, {
          default: DEFAULTS.admin.listen,
          description:
            'Address of the admin HTTP endpoint (/metrics, /healthz, /readyz, /connections), "ipv4:port" or "[ipv6]:port"; "off" disables it.',
        }),
      },
      { default: DEFAULTS.admin, description: 'The admin HTTP endpoint.' },
    ),
    log: object(
      {
        level: stringEnum(LOG_LEVELS, { default: DEFAULTS.log.level, description: 'Least severe level written to the log.' }),
      },
      { default: DEFAULTS.log, description: 'What braid writes to its log.' },
    ),
  },
  { description: 'braid configuration file.' },
);

/** The configuration with every default applied. */
export type BraidConfig = Static<typeof BraidConfigSchema>;
export type PathConfig = BraidConfig['paths'][number];
export type ListenerConfig = BraidConfig['listeners'][number];
export type PolicyConfig = BraidConfig['policies'][number];

type JsonSchema = { [key: string]: unknown };

/**
 * Plain JSON Schema (draft-07) of what a file may contain: the resolved schema without
 * TypeBox's symbols, where keys with a default are optional. A fresh copy on each call.
 */
export function inputSchema(): JsonSchema {
  const plain = JSON.parse(JSON.stringify(BraidConfigSchema)) as JsonSchema;
  relaxDefaulted(plain);
  return plain;
}

function relaxDefaulted(schema: JsonSchema): void {
  const properties = schema['properties'] as Record<string, JsonSchema> | undefined;
  if (properties !== undefined) {
    for (const child of Object.values(properties)) relaxDefaulted(child);
    const required = (schema['required'] as string[] | undefined)?.filter((k) => !('default' in properties[k]!));
    if (required === undefined || required.length === 0) delete schema['required'];
    else schema['required'] = required;
  }
  const items = schema['items'] as JsonSchema | undefined;
  if (items !== undefined) relaxDefaulted(items);
}
