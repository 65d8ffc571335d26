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
export const LISTENER_MODES = ['forward', 'inbound'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

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
  },
  { description: 'One network path of this node: an interface whose addresses carry MPTCP subflows.' },
);

const ListenerSchema = object(
  {
    name: checked(CHECKS.name, { description: 'Name of the listener, used in metrics and logs. Unique among listeners.' }),
    mode: stringEnum(LISTENER_MODES, {
      description:
        'forward: accept plain TCP from local applications and dial `upstream` over MPTCP. inbound: accept MPTCP (and plain TCP) from peers and deliver to the local `target` over TCP.',
    }),
    listen: checked(CHECKS.listenAddress, {
      description:
        'Address to accept connections on: "ipv4:port" or "[ipv6]:port", numeric only; port 0 picks a free port. No two listeners (nor admin.listen) may bind the same or an overlapping address.',
    }),
    upstream: Type.Optional(
      checked(CHECKS.dialAddress, {
        description:
          'forward only, and required there: the remote address to dial over MPTCP, "ipv4:port" or "[ipv6]:port" (port 1..65535).',
      }),
    ),
    target: Type.Optional(
      checked(CHECKS.dialAddress, {
        description:
          'inbound only, and required there: the local address to deliver to over TCP, "ipv4:port" or "[ipv6]:port" (port 1..65535).',
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
        subflows: Type.Integer({
          minimum: 0,
          maximum: 8,
          default: DEFAULTS.mptcp.subflows,
          description: 'Most additional subflows per MPTCP connection (kernel limit "subflows", 0..8).',
        }),
        addAddrAccepted: Type.Integer({
          minimum: 0,
          maximum: 8,
          default: DEFAULTS.mptcp.addAddrAccepted,
          description: 'Most peer address announcements (ADD_ADDR) accepted per connection (kernel limit "add_addr_accepted", 0..8).',
        }),
      },
      {
        default: DEFAULTS.mptcp,
        description: 'Kernel MPTCP path-manager limits braid sets in its network namespace while it runs.',
      },
    ),
    listeners: Type.Array(ListenerSchema, {
      minItems: 1,
      description: 'The sockets braid accepts connections on; at least one.',
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
