// docs/config.md, rendered from the schema's descriptions and defaults so the reference
// cannot drift from what braid accepts (test/unit/config-docs.test.ts compares them).
import { CHECKS } from './checks';
import { configJsonSchema } from './json-schema';

type Schema = Record<string, unknown>;

const FORMAT_WORDS: Record<string, string> = {
  [CHECKS.name.format]: 'name',
  [CHECKS.interface.format]: 'interface name',
  [CHECKS.listenAddress.format]: 'address, port 0..65535',
  [CHECKS.dialAddress.format]: 'address, port 1..65535',
  [CHECKS.adminListen.format]: 'address or `off`',
  [CHECKS.duration.format]: 'duration',
  [CHECKS.target.format]: 'address, port 1..65535, or host',
  [CHECKS.cidr.format]: 'CIDR',
  [CHECKS.portRange.format]: '`FROM-TO` range',
  [CHECKS.cgroup.format]: 'cgroupv2 path',
};

export function renderConfigDocs(schema: Schema = configJsonSchema()): string {
  const rows: string[] = [];
  walk(schema, '', rows);
  return `# Configuration reference

<!-- Generated from src/config/schema.ts by \`node dist/src/config/export-docs.js\`.
     Edit the schema's descriptions, not this file; test/unit/config-docs.test.ts fails when it is stale. -->

braid reads one YAML file: \`braid run -c FILE\`, and \`braid validate -c FILE\` to check one and
print the effective configuration (defaults applied). A complete example is
[examples/braid.yaml](../examples/braid.yaml); the JSON Schema is
[schema/braid.schema.json](../schema/braid.schema.json) (point your editor at it, e.g. with a
\`# yaml-language-server: $schema=...\` comment).

Rules that hold everywhere:

- Keys are camelCase. Unknown keys are errors, and so are duplicate keys.
- An address is numeric, never a host name: \`ipv4:port\` or \`[ipv6]:port\` (an IPv6 address needs
  the brackets). A listen address may use port 0 (a free port); a dialled one may not.
- A duration is a whole number and one unit: \`ms\`, \`s\`, \`m\` or \`h\` (\`500ms\`, \`5s\`, \`15m\`).
- A CIDR is \`address/length\` of either family (\`198.18.8.0/24\`, \`2001:2::/48\`) without host bits
  set; a bare address is one host.
- A name is 1 to 32 characters \`a-z\`, \`0-9\` and \`-\`, starting with a letter or digit.
- Every problem is reported as \`FILE:LINE:COLUMN: KEY.PATH: message\` and braid exits with status 2
  (see [errors.md](errors.md)).

Rules between keys: path names, interfaces, listener and policy names are unique; a \`forward\`
listener needs \`listen\` and \`upstream\`, an \`inbound\` one \`listen\` and \`target\` (with a
port), a \`transparent\` one none of \`listen\`, \`upstream\`, \`target\`, \`ports\` (and
\`capture\` only there, each kind once), a \`transparent-inbound\` one \`ports\` (each port once
across such listeners) and optionally a \`target\` host without port; at most one \`transparent\`
listener, and it and \`policies\` require each other; a policy without \`match\` (or with an empty
one) takes every connection and must be the last; \`fallback\` is only for \`action: mptcp\`; a
policy matching on \`uid\` or \`cgroup\` is valid with \`capture: [routed]\` but only ever matches
local connections; a policy's \`paths\` name entries of \`paths\`; a policy whose \`destination\`
and \`source\` share no address family is an error; no two listeners (nor \`admin.listen\`) may
bind the same or an overlapping address (\`0.0.0.0\` overlaps every IPv4 address of its port,
\`[::]\` every IPv6 one: listeners bind IPv6 only, so \`0.0.0.0:P\` and \`[::]:P\` together take
both families; \`admin.listen\` on \`[::]\` is dual-stack and overlaps both); \`timeouts.connect\`
is more than 0; \`transport: dpdk\` is not available yet.

| Key | Type | Default | Meaning |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}

function walk(schema: Schema, path: string, rows: string[]): void {
  const properties = schema['properties'] as Record<string, Schema> | undefined;
  if (properties === undefined) return;
  const required = new Set((schema['required'] as string[] | undefined) ?? []);
  for (const [key, sub] of Object.entries(properties)) {
    const keyPath = path === '' ? key : `${path}.${key}`;
    rows.push(`| \`${keyPath}\` | ${cell(typeWords(sub))} | ${cell(defaultWords(sub, required.has(key)))} | ${cell(String(sub['description'] ?? ''))} |`);
    walk(sub, keyPath, rows);
    const items = sub['items'] as Schema | undefined;
    if (items !== undefined) walk(items, `${keyPath}[]`, rows);
  }
}

function typeWords(schema: Schema): string {
  if (Array.isArray(schema['enum'])) return (schema['enum'] as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  if (Array.isArray(schema['anyOf'])) return (schema['anyOf'] as Schema[]).map(typeWords).join(' or ');
  if ('const' in schema) return `\`${String(schema['const'])}\``;
  const format = schema['format'];
  if (typeof format === 'string') return FORMAT_WORDS[format] ?? format;
  switch (schema['type']) {
    case 'integer':
      return `integer ${String(schema['minimum'])}..${String(schema['maximum'])}`;
    case 'array': {
      const items = (schema['items'] ?? {}) as Schema;
      return items['type'] === 'object' ? 'list of mappings' : `list of (${typeWords(items)})`;
    }
    case 'object':
      return 'mapping';
    default:
      return String(schema['type']);
  }
}

function defaultWords(schema: Schema, required: boolean): string {
  if (required) return 'required';
  const value = schema['default'];
  if (value === undefined) return '—';
  if (Array.isArray(value)) return value.length === 0 ? '`[]`' : `\`${JSON.stringify(value)}\``;
  if (typeof value === 'object' && value !== null) return 'see below';
  return `\`${String(value)}\``;
}

function cell(text: string): string {
  return text.replace(/\n/g, ' ').replace(/(?<!\\)\|/g, '\\|');
}
