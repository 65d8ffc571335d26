// Removes namespaces left by earlier test-bed runs that died without cleaning up (SIGKILL,
// OOM, power loss). A bed's prefix encodes its owner's pid; only beds whose owner is gone
// are touched, so parallel runs are safe.
import { listNetns, deleteNetns, killNetnsProcesses } from './netns';
import { parseNsName } from './names';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SweepOptions {
  /** SIGTERM-to-SIGKILL grace for processes still inside (default 500 ms). */
  graceMs?: number;
}

/** Deletes stale test-bed namespaces (processes inside killed first); returns their names. */
export async function sweepStale(opts: SweepOptions = {}): Promise<string[]> {
  const stale = listNetns().filter((name) => {
    const parsed = parseNsName(name);
    return parsed !== undefined && parsed.pid !== process.pid && !pidAlive(parsed.pid);
  });
  if (stale.length === 0) return [];
  await killNetnsProcesses(stale, opts.graceMs ?? 500);
  await deleteNetns(stale);
  return stale;
}
