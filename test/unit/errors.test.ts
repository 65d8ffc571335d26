// Every code in the registry is documented in docs/errors.md with its exit code, and the
// docs name no code the registry lacks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { BraidError, ErrorCodes, type ErrorCode } from '../../src/errors';
import { repoRoot } from '../helpers/bad-configs';

const docs = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');

function documented(): Map<string, string> {
  const sections = new Map<string, string>();
  for (const part of docs.split(/^## /m).slice(1)) {
    const [heading = '', ...body] = part.split('\n');
    sections.set(heading.trim(), body.join('\n'));
  }
  return sections;
}

it('docs/errors.md documents every registry code with its exit code', () => {
  const sections = documented();
  for (const [code, entry] of Object.entries(ErrorCodes)) {
    const body = sections.get(code);
    assert.ok(body !== undefined, `docs/errors.md has no "## ${code}" section`);
    assert.match(body, new RegExp(`^Exit code: ${entry.exitCode}$`, 'm'), `${code}: exit code in docs/errors.md differs from src/errors.ts`);
    assert.ok(body.trim().split(/\s+/).length > 15, `${code}: say what it means and what to do`);
  }
});

it('docs/errors.md names no code missing from the registry', () => {
  for (const heading of documented().keys()) assert.ok(heading in ErrorCodes, `docs/errors.md documents unknown code ${heading}`);
});

it('BraidError takes its exit code from the registry', () => {
  for (const code of Object.keys(ErrorCodes) as ErrorCode[]) {
    assert.equal(new BraidError(code, 'x').exitCode, ErrorCodes[code].exitCode);
  }
});
