// The DaemonSet's preStop hook (helm/braid, deploy/kubernetes):
//   node /opt/braid/dist/src/deploy/prestop.js --admin http://127.0.0.1:9464 [--pid 1]
// The kubelet runs it first when a pod is to stop, and sends SIGTERM only once it returns.
// It sends braid (PID 1 of the container) the SIGTERM that starts the drain right away, and
// returns once braid reports draining (/readyz 503), or is gone. The kubelet's own SIGTERM then
// finds braid mid-drain, where a repeated SIGTERM changes nothing (only SIGINT or SIGQUIT abort),
// and the kubelet waits for braid to exit. Waiting here for braid to exit would instead have the
// hook killed with the container (a FailedPreStopHook event on every rollout).
// The kubelet bounds the hook and the drain by terminationGracePeriodSeconds, and braid bounds
// the drain by timeouts.drain, which the chart keeps below it.

export interface PreStopOptions {
  /** Base URL of braid's admin endpoint as seen from inside the pod. */
  admin: string;
  /** braid's pid; 1 in the container (the image's command execs node). */
  pid: number;
  pollMs?: number;
}

/** What ended the wait: braid is draining, was already gone, or closed its admin endpoint. */
export type PreStopOutcome = 'draining' | 'not-running' | 'admin-gone';

export async function preStop(options: PreStopOptions): Promise<PreStopOutcome> {
  try {
    process.kill(options.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'not-running';
    throw err;
  }
  const pollMs = options.pollMs ?? 250;
  for (;;) {
    const ready = await get(`${options.admin}/readyz`);
    if (ready === undefined) return 'admin-gone';
    // 200: braid has not handled the signal yet.
    if (ready.status === 503) return 'draining';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** GET with a short timeout; undefined when nothing answers (braid closed its admin endpoint). */
async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

function parseArgs(argv: string[]): PreStopOptions {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const admin = value('--admin');
  if (admin === undefined || !/^http:\/\/[^/]+$/.test(admin)) {
    throw new Error(`prestop: --admin must be the admin endpoint's base URL, e.g. http://127.0.0.1:9464 (got ${String(admin)})`);
  }
  const pid = Number(value('--pid') ?? '1');
  if (!Number.isInteger(pid) || pid < 1) throw new Error(`prestop: --pid must be a process id (got ${String(value('--pid'))})`);
  return { admin, pid };
}

if (require.main === module) {
  void (async () => {
    try {
      const outcome = await preStop(parseArgs(process.argv.slice(2)));
      process.stdout.write(`prestop: ${outcome}\n`);
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  })();
}
