// Reading a config: YAML text -> document (positions kept) -> ajv with defaults -> the
// cross-field rules -> typed config plus runtime values. Any problem becomes a ConfigError
// whose issues point into the file.
import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { BraidError } from '../errors';
import { ajvIssues } from './ajv-issues';
import { ALL_CHECKS } from './checks';
import { ConfigError } from './config-error';
import type { ConfigIssue, RawIssue } from './issue';
import { locate, pathAtOffset, positionAt } from './locate';
import { formatPath } from './path';
import { RETIRED_KEYS, type RetiredKey } from './retired';
import { deepFreeze } from './freeze';
import { crossFieldRules } from './rules';
import { inputSchema, type BraidConfig } from './schema';
import { toRuntimeConfig, type RuntimeConfig } from './runtime';

export interface LoadedConfig {
  /** The file name (or the name given to parseConfigText) issues are reported against. */
  source: string;
  /** The config as written, with every default applied; frozen. */
  config: BraidConfig;
  /** Parsed values (workers resolved, addresses and durations parsed); frozen. */
  runtime: RuntimeConfig;
}

export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BraidError('BRAID_CONFIG_READ', `cannot read ${path}: ${e.message}`, {
      cause: err,
      ...(typeof e.errno === 'number' ? { errno: -e.errno } : {}),
    });
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, sourceName: string): LoadedConfig {
  return parseConfig(text, sourceName, {});
}

export interface ParseOptions {
  /** For tests of the retired-key path; defaults to RETIRED_KEYS. */
  retiredKeys?: readonly RetiredKey[];
  /** CPU count that workers: auto resolves to; defaults to os.availableParallelism(). */
  cpus?: number;
}

export function parseConfig(text: string, source: string, options: ParseOptions): LoadedConfig {
  const lines = new LineCounter();
  // prettyErrors off: we place errors ourselves and want the bare message.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({
      path: formatPath(pathAtOffset(doc, e.pos[0], e.code === 'DUPLICATE_KEY')),
      ...positionAt(e.pos[0], lines),
      message: e.code === 'DUPLICATE_KEY' ? 'duplicate key (each key may appear once in a mapping)' : e.message,
    }));
    const onlyDuplicates = doc.errors.every((e) => e.code === 'DUPLICATE_KEY');
    throw new ConfigError(source, issues, onlyDuplicates ? 'BRAID_CONFIG_INVALID' : 'BRAID_CONFIG_READ');
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [{ path: '', line: 1, column: 1, message: (err as Error).message }], 'BRAID_CONFIG_READ');
  }
  if (data === null || data === undefined) {
    throw new ConfigError(source, [{ path: '', line: 1, column: 1, message: 'the file is empty: expected a mapping with at least "listeners"' }]);
  }

  const validate = validator();
  if (!validate(data)) {
    const raw = ajvIssues(validate.errors ?? [], data, options.retiredKeys ?? RETIRED_KEYS);
    throw new ConfigError(source, place(raw, doc, lines));
  }
  const config = data as BraidConfig;
  const broken = crossFieldRules(config);
  if (broken.length > 0) throw new ConfigError(source, place(broken, doc, lines));

  const ordered = orderLikeSchema(inputSchema(), config) as BraidConfig;
  return deepFreeze({ source, config: ordered, runtime: toRuntimeConfig(ordered, options.cpus) });
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled === undefined) {
    // useDefaults fills missing keys from the schema's defaults (which come from DEFAULTS) as it validates.
    const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: true });
    for (const check of ALL_CHECKS) ajv.addFormat(check.format, { type: 'string', validate: (v: string) => check.problem(v) === undefined });
    compiled = ajv.compile(inputSchema());
  }
  return compiled;
}

function place(raw: readonly RawIssue[], doc: Document, lines: LineCounter): ConfigIssue[] {
  return raw.map((r) => ({ path: formatPath(r.path), ...locate(doc, lines, r.path, r.anchor), message: r.message }));
}

/** Keys in schema order, so the effective config reads like the docs whatever order the file used. */
function orderLikeSchema(schema: Record<string, unknown>, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = schema['items'] as Record<string, unknown> | undefined;
    return value.map((v) => (items ? orderLikeSchema(items, v) : v));
  }
  const properties = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
  if (properties === undefined || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const [key, sub] of Object.entries(properties)) {
    if (record[key] !== undefined) out[key] = orderLikeSchema(sub, record[key]);
  }
  return out;
}
