// The Reloader against real config files, a fake apply that records its calls, and (for
// SIGHUP) a real child process sent a real signal.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadConfigFile, type LoadedConfig } from '../../src/config';
import { createLogger } from '../../src/observability/logger';
import type { ReloadResult } from '../../src/observability/metrics';
import type { ReloadPlan } from '../../src/reload/plan';
import { Reloader } from '../../src/reload/reloader';

const T = { timeout: 15_000 };
const FIXTURE = join(__dirname, '..', 'fixtures', 'reloader-child.js');

/** A config with the named forward listeners on ports 10001, 10002, ... */
function config(names: string[], extra = ''): string {
  const listeners = names.map((n, i) => `  - { name: ${n}, mode: forward, listen: 127.0.0.1:${10001 + i}, upstream: 198.18.1.2:7379 }`);
  return `workers: 2\nlisteners:\n${listeners.join('\n')}\n${extra}`;
}

let dir: string;
let reloader: Reloader | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'braid-reloader-'));
});
afterEach(() => {
  reloader?.stop();
  reloader = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  file: string;
  running: () => LoadedConfig;
  applied: { next: LoadedConfig; plan: ReloadPlan }[];
  results: ReloadResult[];
  logs: { level: number; msg: string; [k: string]: unknown }[];
}

/** A Reloader over `text`; `apply` defaults to recording and adopting the new config. */
function setup(text: string, options: { apply?: (next: LoadedConfig, plan: ReloadPlan) => Promise<void>; watch?: boolean } = {}): Harness {
  const file = join(dir, 'braid.yaml');
  writeFileSync(file, text);
  let running = loadConfigFile(file);
  const h: Harness = { file, running: () => running, applied: [], results: [], logs: [] };
  reloader = new Reloader({
    file,
    current: () => running,
    apply: async (next, plan) => {
      h.applied.push({ next, plan });
      if (options.apply) await options.apply(next, plan);
      running = next;
    },
    logger: createLogger('debug', { write: (line: string) => h.logs.push(JSON.parse(line)) }),
    metrics: { reloaded: (result) => h.results.push(result) },
    watch: options.watch ?? false,
    debounceMs: 50,
    pollMs: 0,
  });
  return h;
}

const names = (c: LoadedConfig): string[] => c.runtime.listeners.map((l) => l.name);

describe('Reloader.reloadNow', () => {
  it('applies a valid change with its plan, and the new config becomes the running one', async () => {
    const h = setup(config(['a']));
    writeFileSync(h.file, config(['a', 'b']));
    await reloader!.reloadNow('signal');
    assert.equal(h.applied.length, 1);
    assert.deepEqual(h.applied[0]!.plan.listeners.added.map((l) => l.name), ['b']);
    assert.deepEqual(names(h.running()), ['a', 'b']);
    assert.deepEqual(h.results, ['ok']);
    const line = h.logs.find((l) => l.msg === 'config reloaded');
    assert.deepEqual(line?.['listenersAdded'], ['b']);
    assert.equal(line?.['reason'], 'signal');
  });

  it('rejects an invalid file: nothing applied, metric invalid, every issue logged as file:line:col key: message', async () => {
    const h = setup(config(['a']));
    writeFileSync(h.file, config(['a', 'b']).replace('127.0.0.1:10002', '127.0.0.1:99999').replace('workers: 2', 'workers: 0'));
    await reloader!.reloadNow('file');
    assert.equal(h.applied.length, 0);
    assert.deepEqual(h.results, ['invalid']);
    assert.deepEqual(names(h.running()), ['a']);
    const line = h.logs.find((l) => l.level === 50);
    const issues = line?.['issues'] as string[];
    assert.equal(issues.length, 2, JSON.stringify(issues));
    assert.match(issues[0]!, new RegExp(`^${h.file}:1:10: workers: `));
    assert.match(issues[1]!, new RegExp(`^${h.file}:4:\\d+: listeners\\[1\\]\\.listen: `));
    assert.match(line!.msg, /the running config stays/);
  });

  it('treats an unreadable file (deleted) as invalid and keeps running', async () => {
    const h = setup(config(['a']));
    unlinkSync(h.file);
    await reloader!.reloadNow('signal');
    assert.deepEqual(h.results, ['invalid']);
    assert.equal(h.applied.length, 0);
    assert.match(h.logs.find((l) => l.level === 50)!.msg, /cannot read .*braid\.yaml/);
  });

  it('applies nothing when a key needs a restart, even with live changes beside it, and names the key', async () => {
    const h = setup(config(['a']));
    writeFileSync(h.file, config(['a', 'b']).replace('workers: 2', 'workers: 3'));
    await reloader!.reloadNow('signal');
    assert.equal(h.applied.length, 0);
    assert.deepEqual(h.results, ['restart-required']);
    const line = h.logs.find((l) => l.level === 50);
    assert.deepEqual(line?.['restartRequired'], ['workers']);
    assert.match(line!.msg, /needs a restart \(workers\)/);
  });

  it('calls nothing for a file that means the same (comments, order of keys)', async () => {
    const h = setup(config(['a']));
    writeFileSync(h.file, `# reformatted\n${config(['a'])}log: { level: info }\n`);
    await reloader!.reloadNow('signal');
    assert.equal(h.applied.length, 0);
    assert.deepEqual(h.results, ['unchanged']);
  });

  it('counts a throwing apply as failed and keeps the running config', async () => {
    const h = setup(config(['a']), {
      apply: async () => {
        throw new Error('bind failed: address in use');
      },
    });
    writeFileSync(h.file, config(['a', 'b']));
    await reloader!.reloadNow('signal');
    assert.equal(h.applied.length, 1);
    assert.deepEqual(h.results, ['failed']);
    assert.deepEqual(names(h.running()), ['a']);
    const line = h.logs.find((l) => l.level === 50);
    assert.match(line!.msg, /failed while applying/);
    assert.match(JSON.stringify(line!['err']), /address in use/);
  });

  it('serialises reloads: triggers during one queue exactly one more, which reads the newest file', T, async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inFirstApply = new Promise<void>((resolve) => (entered = resolve));
    let active = 0;
    let maxActive = 0;
    const h = setup(config(['a']), {
      apply: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        if (h.applied.length === 1) {
          entered();
          await gate;
        }
        active--;
      },
    });
    writeFileSync(h.file, config(['a', 'b']));
    const first = reloader!.reloadNow('signal');
    await inFirstApply;
    writeFileSync(h.file, config(['a', 'b', 'c']));
    const second = reloader!.reloadNow('file');
    assert.equal(reloader!.reloadNow('signal'), second, 'a trigger while one is queued joins it');
    assert.equal(reloader!.reloadNow('file'), second);
    writeFileSync(h.file, config(['a', 'b', 'c', 'd']));
    release();
    await first;
    await second;
    assert.equal(maxActive, 1);
    assert.deepEqual(
      h.applied.map((a) => names(a.next)),
      [
        ['a', 'b'],
        ['a', 'b', 'c', 'd'],
      ],
    );
    assert.deepEqual(h.results, ['ok', 'ok']);
    // Once idle, a trigger runs at once again (nothing changed since: unchanged).
    await reloader!.reloadNow('signal');
    assert.deepEqual(h.results, ['ok', 'ok', 'unchanged']);
  });
});

describe('Reloader.start', () => {
  it('reloads when the file changes', T, async () => {
    let applied!: (names: string[]) => void;
    const seen = new Promise<string[]>((resolve) => (applied = resolve));
    const h = setup(config(['a']), { watch: true, apply: async (next) => applied(names(next)) });
    reloader!.start();
    writeFileSync(h.file, config(['a', 'z']));
    assert.deepEqual(await seen, ['a', 'z']);
    await reloader!.settled();
    assert.deepEqual(h.results, ['ok']);
    assert.equal(h.logs.find((l) => l.msg === 'config reloaded')?.['reason'], 'file');
  });

  it('adds one SIGHUP handler and stop() removes it', () => {
    const before = process.listenerCount('SIGHUP');
    setup(config(['a']));
    reloader!.start();
    reloader!.start();
    assert.equal(process.listenerCount('SIGHUP'), before + 1);
    reloader!.stop();
    assert.equal(process.listenerCount('SIGHUP'), before);
  });

  it('reloads on SIGHUP in a real process, survives an invalid file, and stops on SIGTERM', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, config(['a']));
    const child = spawn(process.execPath, [FIXTURE, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines: Record<string, unknown>[] = [];
      let wake: (() => void) | undefined;
      let exited: string | undefined;
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(JSON.parse(line));
        wake?.();
      });
      child.on('exit', (code, signal) => {
        exited = `child exited (code ${code}, signal ${signal})`;
        wake?.();
      });
      /** The first line from `from` on that matches; fails if the child exits first. */
      const waitFor = async (pred: (l: Record<string, unknown>) => boolean, from = 0): Promise<number> => {
        for (;;) {
          const i = lines.findIndex((l, j) => j >= from && pred(l));
          if (i >= 0) return i;
          if (exited !== undefined) throw new Error(`${exited} before the expected line; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
          await new Promise<void>((resolve) => (wake = resolve));
        }
      };

      await waitFor((l) => l['event'] === 'ready');
      writeFileSync(file, config(['a', 'b']));
      child.kill('SIGHUP');
      const ok = await waitFor((l) => l['event'] === 'reload');
      assert.deepEqual(lines[ok], { event: 'reload', result: 'ok' });
      const apply = await waitFor((l) => l['event'] === 'apply');
      assert.deepEqual(lines[apply]!['listeners'], ['a', 'b']);
      assert.ok(lines.some((l) => l['msg'] === 'config reloaded' && l['reason'] === 'signal'));

      writeFileSync(file, 'listeners: [\n');
      child.kill('SIGHUP');
      const bad = await waitFor((l) => l['event'] === 'reload', ok + 1);
      assert.deepEqual(lines[bad], { event: 'reload', result: 'invalid' });

      child.kill('SIGTERM');
      await waitFor((l) => l['event'] === 'stopped');
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
