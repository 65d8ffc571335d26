// Runs the real CLI (`braid validate` and `braid run`) on every bad-config fixture: exit status 2
// and a stderr that names the key path and FILE:LINE:. No network, no namespaces needed: a bad
// file stops `run` before it touches anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { badConfigFixtures, repoRoot } from '../helpers/bad-configs';

const cli = join(repoRoot, 'dist', 'src', 'cli.js');

function braid(command: 'validate' | 'run', ...args: string[]) {
  const r = spawnSync(process.execPath, [cli, command, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined);
  return r;
}

function validate(...args: string[]) {
  return braid('validate', ...args);
}

for (const command of ['validate', 'run'] as const) {
  describe(`braid ${command} on bad configs`, () => {
    for (const f of badConfigFixtures()) {
      it(f.name, () => {
        const r = braid(command, '-c', f.file);
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, new RegExp(`^${escape(f.file)}:${f.line}:\\d+: ${escape(f.path)}: `, 'm'), r.stderr);
        assert.ok(r.stderr.includes(`[${f.code}]`), r.stderr);
      });
    }
  });
}

describe('braid validate on good input', () => {
  const example = join(repoRoot, 'examples', 'braid.yaml');

  it('examples/braid.yaml: exit 0, "FILE: valid" and the effective config', () => {
    const r = validate('-c', example);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`${example}: valid`), r.stdout);
    assert.match(r.stdout, /^ {4}backlog: 1024$/m); // a default the second listener did not write
  });

  it('--quiet prints nothing', () => {
    const r = validate('-q', '-c', example);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
  });

  it('a missing file exits 2 with BRAID_CONFIG_READ', () => {
    const r = validate('-c', join(repoRoot, 'test', 'fixtures', 'no-such-file.yaml'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no-such-file\.yaml.*\[BRAID_CONFIG_READ\]/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
