// watchConfigFile on real files in a tmp dir. The fallback poll is off (pollMs: 0) so every
// change below must be seen through fs.watch on the directory. Each test waits for the
// watcher's own check (onCheck) rather than for time to pass.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { watchConfigFile, type CheckOutcome, type ConfigWatcher } from '../../src/config/watch';

const T = { timeout: 15_000 };

let dir: string;
let watcher: ConfigWatcher | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'braid-watch-'));
});
afterEach(() => {
  watcher?.close();
  watcher = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Watch `file`; count callbacks and hand out check outcomes in order. */
function watchIt(file: string) {
  let changes = 0;
  const outcomes: CheckOutcome[] = [];
  const waiters: ((o: CheckOutcome) => void)[] = [];
  watcher = watchConfigFile(
    file,
    () => {
      changes++;
    },
    {
      debounceMs: 50,
      pollMs: 0,
      onCheck: (o) => {
        const waiter = waiters.shift();
        if (waiter) waiter(o);
        else outcomes.push(o);
      },
    },
  );
  return {
    changes: () => changes,
    /** The next check's outcome (checks run only after filesystem events). */
    nextCheck: (): Promise<CheckOutcome> => {
      const ready = outcomes.shift();
      return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

const V1 = 'listeners: []\n# v1\n';
const V2 = 'listeners: []\n# v2\n';
const V3 = 'listeners: []\n# v3\n';

/** A ConfigMap volume as kubelet's AtomicWriter lays it out: braid.yaml -> ..data/braid.yaml, ..data -> ..TS/. */
function k8sVolume(content: string): { file: string; update(content: string): void } {
  let n = 0;
  let current = '';
  const writeVersion = (text: string): string => {
    n++;
    const ts = `..2026_11_24_10_00_0${n}.00000000${n}`;
    mkdirSync(join(dir, ts));
    writeFileSync(join(dir, ts, 'braid.yaml'), text);
    writeFileSync(join(dir, ts, 'other-key'), `other ${n}\n`);
    return ts;
  };
  current = writeVersion(content);
  symlinkSync(current, join(dir, '..data'));
  symlinkSync('..data/braid.yaml', join(dir, 'braid.yaml'));
  symlinkSync('..data/other-key', join(dir, 'other-key'));
  return {
    file: join(dir, 'braid.yaml'),
    // The order AtomicWriter uses: new timestamped dir, ..data_tmp symlink, rename over ..data, remove the old dir.
    update(text: string) {
      const old = current;
      current = writeVersion(text);
      symlinkSync(current, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, old), { recursive: true });
    },
  };
}

describe('watchConfigFile', () => {
  it('sees an in-place write', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    writeFileSync(file, V2);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 1);
  });

  it("sees an editor's write to a temp file renamed over the config", T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    writeFileSync(join(dir, '.braid.yaml.tmp'), V2);
    renameSync(join(dir, '.braid.yaml.tmp'), file);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 1);
    // The watch is on the directory, so the next change to the new inode is seen too.
    writeFileSync(file, V3);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 2);
  });

  it('sees a Kubernetes ConfigMap update (..data swapped, old directory removed)', T, async () => {
    const volume = k8sVolume(V1);
    const w = watchIt(volume.file);
    const before = realpathSync(volume.file);
    volume.update(V2);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 1);
    assert.notEqual(realpathSync(volume.file), before);

    // A second update works the same (nothing was tied to the first timestamped directory) ...
    volume.update(V3);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 2);
    // ... and one that changes only another key of the ConfigMap fires nothing.
    volume.update(V3);
    assert.equal(await w.nextCheck(), 'unchanged');
    assert.equal(w.changes(), 2);
  });

  it('debounces a burst of writes into one callback', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    for (let i = 0; i < 20; i++) writeFileSync(file, `listeners: []\n# burst ${i}\n`);
    assert.equal(await w.nextCheck(), 'changed');
    // A later change proves no second check of the burst was still pending: it would have come first.
    writeFileSync(file, V2);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 2);
  });

  it('fires nothing when the content is unchanged (touch, same bytes rewritten)', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    assert.equal(await w.nextCheck(), 'unchanged');
    writeFileSync(file, V1);
    assert.equal(await w.nextCheck(), 'unchanged');
    assert.equal(w.changes(), 0);
  });

  it('survives the file missing for a while and fires when it comes back changed', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    unlinkSync(file);
    assert.equal(await w.nextCheck(), 'missing');
    assert.equal(w.changes(), 0);
    writeFileSync(file, V1);
    assert.equal(await w.nextCheck(), 'unchanged', 'back with the same content: not a change');
    unlinkSync(file);
    assert.equal(await w.nextCheck(), 'missing');
    writeFileSync(file, V2);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 1);
  });

  it('fires when a file missing at start appears', T, async () => {
    const file = join(dir, 'braid.yaml');
    const w = watchIt(file);
    writeFileSync(file, V1);
    assert.equal(await w.nextCheck(), 'changed');
    assert.equal(w.changes(), 1);
  });

  it('fires nothing after close()', T, async () => {
    const file = join(dir, 'braid.yaml');
    writeFileSync(file, V1);
    const w = watchIt(file);
    watcher?.close();
    writeFileSync(file, V2);
    // A second watcher on the same file sees the next write; by then the first would have fired.
    const w2 = watchIt(file);
    writeFileSync(file, V3);
    assert.equal(await w2.nextCheck(), 'changed');
    assert.equal(w.changes(), 0);
  });

  it('catches with the fallback check what the directory watch cannot see: a symlink target elsewhere written in place', T, async () => {
    mkdirSync(join(dir, 'real'));
    mkdirSync(join(dir, 'etc'));
    const target = join(dir, 'real', 'braid.yaml');
    writeFileSync(target, V1);
    const file = join(dir, 'etc', 'braid.yaml');
    symlinkSync(target, file);
    let changes = 0;
    const checks: CheckOutcome[] = [];
    let wake: (() => void) | undefined;
    watcher = watchConfigFile(file, () => changes++, {
      debounceMs: 50,
      pollMs: 200,
      onCheck: (o) => {
        checks.push(o);
        wake?.();
      },
    });
    writeFileSync(target, V2); // in dir/real, which nothing watches
    while (!checks.includes('changed')) await new Promise<void>((resolve) => (wake = resolve));
    assert.equal(changes, 1);
  });

  it('throws, naming the directory, when it cannot be watched and polling is off', () => {
    const missing = join(dir, 'nope', 'braid.yaml');
    assert.throws(() => watchConfigFile(missing, () => {}, { pollMs: 0 }), new RegExp(`cannot watch ${join(dir, 'nope')}`));
  });
});
