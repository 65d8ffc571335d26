// ajv's errors in words a person can act on. ajv runs with allErrors and verbose, so each
// error carries the offending data and its schema; this file only words them and says
// which node of the file each one is about.
import type { ErrorObject } from 'ajv';
import { ALL_CHECKS } from './checks';
import type { RawIssue } from './issue';
import { formatPath, pointerToPath, type PathSegment } from './path';
import { retiredKeyMessage, type RetiredKey } from './retired';

type Schema = Record<string, unknown>;

export function ajvIssues(errors: readonly ErrorObject[], data: unknown, retired: readonly RetiredKey[]): RawIssue[] {
  // An anyOf reports each failed branch and then itself; keep only the anyOf, worded from its branches.
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const issues: RawIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (unions.some((u) => error.schemaPath.startsWith(u))) continue;
    const issue = toIssue(error, pointerToPath(error.instancePath, data), retired);
    // A value can fail both the editor-facing `pattern` and the exact `format`: report it once.
    const key = `${formatPath(issue.path)}|${issue.anchor}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

function toIssue(error: ErrorObject, at: PathSegment[], retired: readonly RetiredKey[]): RawIssue {
  const p = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Schema;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const path = [...at, key];
      const allowed = Object.keys((parent['properties'] ?? {}) as Schema);
      const message = retiredKeyMessage(path, retired) ?? unknownKeyMessage(key, allowed);
      return { path, anchor: 'key', message };
    }
    case 'required': {
      const key = String(p['missingProperty']);
      return { path: [...at, key], anchor: 'parent', message: `required key "${key}" is missing` };
    }
    case 'type':
      return value(at, `must be ${typeWords(String(p['type']))} (got ${describe(error.data)})`);
    case 'enum':
      return value(at, `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')} (got ${describe(error.data)})`);
    case 'anyOf': {
      // A string that only a formatted branch could take: that check says what is wrong with it.
      const formatted = (error.schema as Schema[]).find((b) => b['type'] === 'string' && typeof b['format'] === 'string');
      const check = ALL_CHECKS.find((c) => c.format === formatted?.['format']);
      const problem = typeof error.data === 'string' ? check?.problem(error.data) : undefined;
      if (problem !== undefined) return value(at, problem);
      const branches = (error.schema as Schema[]).map(describeSchema).join(' or ');
      return value(at, `must be ${branches} (got ${describe(error.data)})`);
    }
    case 'minimum':
    case 'maximum':
      return value(at, `must be ${rangeWords(parent)} (got ${describe(error.data)})`);
    case 'minItems': {
      const n = Number(p['limit']);
      return value(at, `must list at least ${n} ${n === 1 ? 'entry' : 'entries'}`);
    }
    case 'pattern':
    case 'format': {
      const check = ALL_CHECKS.find((c) => c.pattern === p['pattern'] || c.format === p['format']);
      const problem = typeof error.data === 'string' ? check?.problem(error.data) : undefined;
      return value(at, problem ?? `is not valid (${error.message ?? error.keyword})`);
    }
    default:
      return value(at, error.message ?? `fails "${error.keyword}"`);
  }
}

function value(path: PathSegment[], message: string): RawIssue {
  return { path, anchor: 'value', message };
}

function unknownKeyMessage(key: string, allowed: string[]): string {
  const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2);
  if (near !== undefined) return `unknown key "${key}"; did you mean "${near}"?`;
  return `unknown key "${key}"; allowed here: ${allowed.join(', ')}`;
}

function typeWords(type: string): string {
  const words: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'empty',
  };
  return type.split(',').map((t) => words[t] ?? t).join(' or ');
}

function rangeWords(schema: Schema): string {
  const min = schema['minimum'];
  const max = schema['maximum'];
  const what = schema['type'] === 'integer' ? 'an integer' : 'a number';
  if (min !== undefined && max !== undefined) return `${what} from ${String(min)} to ${String(max)}`;
  if (min !== undefined) return `${what} of at least ${String(min)}`;
  return `${what} of at most ${String(max)}`;
}

function describeSchema(schema: Schema): string {
  if ('const' in schema) return JSON.stringify(schema['const']);
  if (schema['type'] === 'integer' || schema['type'] === 'number') return rangeWords(schema);
  return typeWords(String(schema['type']));
}

function describe(data: unknown): string {
  if (data === null || data === undefined) return 'nothing';
  if (Array.isArray(data)) return 'a list';
  if (typeof data === 'object') return 'a mapping';
  const text = JSON.stringify(data);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
