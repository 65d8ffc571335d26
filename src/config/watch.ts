// Telling when the config file's content really changed, however it was replaced.
//
// The directory is watched, not the file: an editor's write-to-temp-then-rename and a
// Kubernetes ConfigMap update both replace the file's inode, and a watch on the old inode
// would see nothing more. A ConfigMap volume holds `braid.yaml -> ..data/braid.yaml` and
// `..data -> ..<timestamp>/`; kubelet updates it by writing a new timestamped directory,
// renaming a new `..data_tmp` symlink over `..data` and deleting the old directory, so the
// only events are renames of `..data*` entries. Hence any event in the directory schedules a
// check, and the check compares a hash of the content read through the symlinks: touches,
// rewrites with the same bytes and updates of other ConfigMap keys fire nothing.
//
// Bursts (an editor's several writes, kubelet's three steps) are debounced into one check.
// A file that is briefly missing is not a change; its reappearance is compared with the
// last content seen.
import { createHash } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface WatchOptions {
  /** Quiet time after the last event before the file is checked; default 250 ms. */
  debounceMs?: number;
  /**
   * Fallback check interval, default 5000 ms; 0 disables it. Never shorter than debounceMs.
   * Why it exists: inotify sees nothing on network file systems (NFS, some FUSE mounts) nor
   * an in-place write to a symlink's target in another directory, and a watch dies with its
   * directory (it is re-armed here when the directory reappears). Each tick is one small read.
   */
  pollMs?: number;
  /** Called after every check with what it found; for tests and debug logs. */
  onCheck?: (outcome: CheckOutcome) => void;
  /** fs.watch could not be set up or failed; the fallback poll (if on) keeps checking. */
  onWatchError?: (err: Error) => void;
}

/**
 * changed: new content (or the file appeared, or became unreadable); unchanged: same bytes;
 * missing: the file is not there (no callback); unreadable: still unreadable (no callback).
 */
export type CheckOutcome = 'changed' | 'unchanged' | 'missing' | 'unreadable';

export interface ConfigWatcher {
  /** Stop watching; no callback fires afterwards. Idempotent. */
  close(): void;
}

export const DEFAULT_DEBOUNCE_MS = 250;
export const DEFAULT_POLL_MS = 5000;

type Seen = { kind: 'content'; hash: string } | { kind: 'missing' } | { kind: 'unreadable' };

/**
 * Call `onChange` (which must not throw) once per real change of `file`'s content. Throws
 * only if the directory cannot be watched and the fallback poll is off.
 */
export function watchConfigFile(file: string, onChange: () => void, opts: WatchOptions = {}): ConfigWatcher {
  const path = resolve(file);
  const dir = dirname(path);
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const pollMs = opts.pollMs === 0 ? 0 : Math.max(opts.pollMs ?? DEFAULT_POLL_MS, debounceMs);
  // A writer that never pauses must not postpone the check forever.
  const maxWaitMs = 4 * debounceMs;

  let seen = read(path);
  let lastContent = seen.kind === 'content' ? seen.hash : undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let burstStart = 0;
  let watcher: FSWatcher | undefined;
  let watchedDir: string | undefined; // dev:ino of the directory the watcher is on

  const check = (): void => {
    timer = undefined;
    if (closed) return;
    const now = read(path);
    let outcome: CheckOutcome;
    if (now.kind === 'content') {
      outcome = now.hash === lastContent && seen.kind !== 'unreadable' ? 'unchanged' : 'changed';
      lastContent = now.hash;
    } else if (now.kind === 'missing') {
      outcome = 'missing';
    } else {
      // Fire once on becoming unreadable so the reader reports why; not again while it stays so.
      outcome = seen.kind === 'unreadable' ? 'unreadable' : 'changed';
    }
    seen = now;
    if (outcome === 'changed') onChange();
    opts.onCheck?.(outcome);
  };

  const schedule = (): void => {
    if (closed) return;
    const now = Date.now();
    if (timer === undefined) burstStart = now;
    else clearTimeout(timer);
    timer = setTimeout(check, Math.max(0, Math.min(debounceMs, burstStart + maxWaitMs - now)));
  };

  const unarm = (): void => {
    watcher?.close();
    watcher = undefined;
    watchedDir = undefined;
  };

  /** Watch the directory, again if it was replaced since. Returns the error, if any. */
  const arm = (): Error | undefined => {
    try {
      const st = statSync(dir);
      const id = `${st.dev}:${st.ino}`;
      if (watcher !== undefined && id === watchedDir) return undefined;
      unarm();
      const w = watch(dir, () => schedule());
      w.on('error', (err) => {
        if (watcher === w) unarm();
        opts.onWatchError?.(err);
      });
      watcher = w;
      watchedDir = id;
      return undefined;
    } catch (err) {
      unarm();
      return err instanceof Error ? err : new Error(String(err));
    }
  };

  const armError = arm();
  if (armError !== undefined) {
    if (pollMs === 0) throw new Error(`cannot watch ${dir} for changes to ${path}: ${armError.message}`, { cause: armError });
    opts.onWatchError?.(armError);
  }

  let failing = armError !== undefined;
  const poll =
    pollMs === 0
      ? undefined
      : setInterval(() => {
          const err = arm();
          if (err !== undefined && !failing) opts.onWatchError?.(err);
          failing = err !== undefined;
          // A pending debounced check will read the file anyway, after the burst settles.
          if (timer === undefined) check();
        }, pollMs);

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (poll !== undefined) clearInterval(poll);
      unarm();
    },
  };
}

function read(path: string): Seen {
  try {
    return { kind: 'content', hash: createHash('sha256').update(readFileSync(path)).digest('hex') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT also covers a dangling symlink; ENOTDIR a path component replaced by a file.
    return code === 'ENOENT' || code === 'ENOTDIR' ? { kind: 'missing' } : { kind: 'unreadable' };
  }
}
