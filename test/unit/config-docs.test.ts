import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { configJsonSchema } from '../../src/config';
import { renderConfigDocs } from '../../src/config/docs';
import { repoRoot } from '../helpers/bad-configs';

const docs = readFileSync(join(repoRoot, 'docs', 'config.md'), 'utf8');

it('docs/config.md is what the schema renders (run node dist/src/config/export-docs.js)', () => {
  assert.equal(docs, renderConfigDocs());
});

it('docs/config.md has a row for every key of the schema', () => {
  const keys: string[] = [];
  const walk = (node: Record<string, unknown>, path: string) => {
    for (const [k, v] of Object.entries((node['properties'] ?? {}) as Record<string, Record<string, unknown>>)) {
      const p = path === '' ? k : `${path}.${k}`;
      keys.push(p);
      walk(v, p);
      if (v['items']) walk(v['items'] as Record<string, unknown>, `${p}[]`);
    }
  };
  walk(configJsonSchema(), '');
  assert.ok(keys.length >= 25);
  for (const key of keys) assert.ok(docs.includes(`| \`${key}\` |`), `docs/config.md lacks ${key}`);
});
