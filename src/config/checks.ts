// String rules of the schema. Each has a `pattern` (plain RE2-compatible regex, so editors
// and Helm's Go validator can use the published JSON Schema) and a `format` registered with
// ajv that applies the exact rule. `problem` explains a failure in words; the ajv error
// mapper looks a check up by either keyword so both give the same message.
import { parseSocketAddress } from './address';
import { CGROUP_PATTERN, cgroupProblem, parseCidr, parseHost, parsePortRange, PORT_RANGE_PATTERN } from './cidr';
import { DURATION_PATTERN, parseDuration } from './duration';

export interface StringCheck {
  format: string;
  pattern: string;
  /** undefined when the value is acceptable, otherwise what is wrong with it */
  problem(value: string): string | undefined;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
// dev_valid_name() in the kernel: 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
const IFNAME = /^[^/:\s]{1,15}$/;
const LOOSE_ADDRESS = '(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9A-Fa-f:.]+\\]):\\d{1,5}';
const LOOSE_HOST = '[0-9A-Fa-f:.]+';

export const CHECKS = {
  name: {
    format: 'braid-name',
    pattern: NAME.source,
    problem: (v) =>
      NAME.test(v) ? undefined : `"${v}" is not a valid name: use 1 to 32 characters a-z, 0-9 and '-', starting with a letter or digit`,
  },
  interface: {
    format: 'braid-interface',
    pattern: IFNAME.source,
    problem: (v) =>
      IFNAME.test(v) && v !== '.' && v !== '..'
        ? undefined
        : `"${v}" is not a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace`,
  },
  listenAddress: {
    format: 'braid-listen-address',
    pattern: `^${LOOSE_ADDRESS}$`,
    problem: (v) => problemOf(parseSocketAddress(v, { allowPortZero: true })),
  },
  dialAddress: {
    format: 'braid-dial-address',
    pattern: `^${LOOSE_ADDRESS}$`,
    problem: (v) => problemOf(parseSocketAddress(v, { allowPortZero: false })),
  },
  target: {
    // inbound: "host:port"; transparent-inbound: a bare host (the port is the connection's own).
    // Which form a listener needs is a rule between keys (rules.ts).
    format: 'braid-target',
    pattern: `^(${LOOSE_ADDRESS}|${LOOSE_HOST})$`,
    problem: (v) => {
      if (parseHost(v) !== undefined) return undefined;
      if (v.includes(':')) return problemOf(parseSocketAddress(v, { allowPortZero: false }));
      return `"${v}" is not a numeric IP address (host names are not resolved): inbound takes "ipv4:port" or "[ipv6]:port", transparent-inbound a bare numeric host`;
    },
  },
  adminListen: {
    format: 'braid-admin-listen',
    pattern: `^(off|${LOOSE_ADDRESS})$`,
    problem: (v) => (v === 'off' ? undefined : problemOf(parseSocketAddress(v, { allowPortZero: true }), ' or "off"')),
  },
  duration: {
    format: 'braid-duration',
    pattern: DURATION_PATTERN,
    problem: (v) => problemOf(parseDuration(v)),
  },
  cidr: {
    format: 'braid-cidr',
    pattern: `^${LOOSE_HOST}(/\\d{1,3})?$`,
    problem: (v) => {
      const parsed = parseCidr(v);
      return parsed.ok ? undefined : parsed.problem;
    },
  },
  portRange: {
    format: 'braid-port-range',
    pattern: PORT_RANGE_PATTERN,
    problem: (v) => {
      const parsed = parsePortRange(v);
      return parsed.ok ? undefined : parsed.problem;
    },
  },
  cgroup: {
    format: 'braid-cgroup',
    pattern: CGROUP_PATTERN,
    problem: cgroupProblem,
  },
} satisfies Record<string, StringCheck>;

export const ALL_CHECKS: readonly StringCheck[] = Object.values(CHECKS);

function problemOf(r: { ok: true } | { ok: false; problem: string }, suffix = ''): string | undefined {
  return r.ok ? undefined : r.problem + suffix;
}
