// deploy/Dockerfile, checked without a container engine: the build stage installs and runs
// what scripts/setup.sh does to build braid (which the tests exercise), the runtime stage
// installs exactly the libraries the built addon links plus nftables and iproute2, and every
// path the DaemonSet runs exists in the image's layout.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findObject, renderChart, repoRoot, type Json } from '../../src/deploy/chart';
import { aptPackages, execForm, parseDockerfile, runCommands, toCheckout } from '../../src/deploy/image';

const stages = parseDockerfile();
const build = stages[0]!;
const runtime = stages[stages.length - 1]!;
const setup = readFileSync(join(repoRoot, 'scripts', 'setup.sh'), 'utf8');

/** setup.sh's package lines, each with its trailing comment. */
function setupPackages(): Array<{ packages: string[]; comment: string }> {
  const block = /^packages=\(\n([\s\S]*?)\n\)/m.exec(setup);
  assert.ok(block, 'scripts/setup.sh has no packages=( ... ) list');
  return block[1]!.split('\n').map((line) => {
    const [list, comment = ''] = line.split('#', 2) as [string, string?];
    return { packages: list.trim().split(/\s+/).filter(Boolean), comment };
  });
}

/** The Debian package owning a library, found under /lib or /usr/lib (merged /usr). */
function dpkgOwner(lib: string): string {
  const candidates = [lib, lib.replace(/^\/lib/, '/usr/lib'), lib.replace(/^\/usr\/lib/, '/lib'), realpathSync(lib)];
  for (const c of candidates) {
    try {
      return execFileSync('dpkg', ['-S', c], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]!;
    } catch {
      // not under this name
    }
  }
  throw new Error(`no Debian package owns ${lib}`);
}

describe('deploy/Dockerfile', () => {
  it('has a build stage and a slim runtime stage on the same Node and Debian', () => {
    assert.equal(stages.length, 2);
    assert.match(build.from, /^node:\d+-bookworm$/);
    assert.equal(runtime.from, `${build.from}-slim`);
  });

  it('build stage: setup.sh\'s native build packages, then npm ci and npm run build as setup.sh runs them', () => {
    // The addon's line, less the C++ unit tests' framework (the image builds no tests, nor the user-space stack).
    const native = setupPackages()
      .filter((l) => /native build/.test(l.comment))
      .flatMap((l) => l.packages)
      .filter((p) => p !== 'libgtest-dev');
    assert.deepEqual([...aptPackages(build)].sort(), [...native].sort());
    const cmds = runCommands(build);
    assert.ok(cmds.some((c) => /^npm ci\b/.test(c)) && /npm ci\b/.test(setup), 'npm ci');
    assert.ok(cmds.some((c) => /^npm run build\b/.test(c)) && /npm run --silent build\b/.test(setup), 'npm run build');
  });

  it('runtime stage: the addon\'s shared libraries (by dpkg) plus nftables and iproute2, nothing else', () => {
    const addon = join(repoRoot, 'build', 'native', 'Release', 'braid_native.node');
    assert.ok(existsSync(addon), 'build the addon first (npm run build:native)');
    const libs = execFileSync('ldd', [addon], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /=> (\S+)/.exec(l)?.[1])
      .filter((l): l is string => l !== undefined);
    // In node:*-slim already: node itself links libc, libm, libstdc++ and libgcc_s.
    const inBase = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);
    const needed = new Set<string>();
    for (const lib of libs) {
      const owner = dpkgOwner(lib);
      if (!inBase.has(owner)) needed.add(owner);
    }
    assert.deepEqual([...aptPackages(runtime)].sort(), [...needed, 'nftables', 'iproute2'].sort());
  });

  it('runs what the DaemonSet runs, from paths the image has', () => {
    const { objects } = renderChart();
    const container = ((((findObject(objects, 'DaemonSet')['spec'] as Json)['template'] as Json)['spec'] as Json)['containers'] as Json[])[0]!;
    const command = container['command'] as string[];
    assert.deepEqual(execForm(runtime, 'ENTRYPOINT'), command);
    assert.deepEqual(execForm(runtime, 'CMD'), container['args']);
    const hook = (((container['lifecycle'] as Json)['preStop'] as Json)['exec'] as Json)['command'] as string[];
    for (const p of [...command, ...hook].filter((a) => a.startsWith('/opt/braid/'))) {
      const local = toCheckout(p);
      assert.ok(local && existsSync(local), `${p} is not in the image (no COPY provides it, or it is not built)`);
    }
    assert.equal(hook[0], '/usr/local/bin/node', 'the node binary of the official node images');
    assert.ok(execForm(runtime, 'ENTRYPOINT')![0]!.startsWith('/opt/braid/'));
    assert.match(readFileSync(join(repoRoot, 'bin', 'braid'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'bin/braid execs node, so braid is PID 1');
  });

  it('.dockerignore keeps src/deploy (the preStop hook) in the build context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const dir of ['src', 'bin', 'native']) assert.ok(!ignored.includes(dir), `${dir} is ignored`);
  });
});
