// Runs ip/tc/ethtool for the test bed. Failures become BRAID_TESTBED errors that quote the
// command line and its stderr, so a broken step names itself.
import { execFile, spawnSync } from 'node:child_process';
import { BraidError } from '../errors';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface CommandOptions {
  input?: string;
  timeoutMs?: number;
}

function describe(argv: readonly string[]): string {
  return argv.join(' ');
}

function failure(argv: readonly string[], detail: string, cause?: unknown): BraidError {
  return new BraidError('BRAID_TESTBED', `testbed: \`${describe(argv)}\` failed: ${detail}`, { cause });
}

// Resolves with stdout; rejects when the command exits non-zero, times out or cannot start.
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('runCommand: empty argv'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        let detail: string;
        if (e.killed === true) detail = `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`;
        else if (typeof e.code === 'number') detail = `exit ${e.code}: ${stderr.trim() || stdout.trim()}`;
        else detail = e.message;
        reject(failure(argv, detail, err));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

// Synchronous twin for process-exit handlers, where no event loop turn is left.
// Never throws: returns the exit status (null when it could not run).
export function runCommandSync(argv: readonly string[], opts: CommandOptions = {}): number | null {
  const [file, ...args] = argv;
  if (file === undefined) return null;
  const r = spawnSync(file, args, {
    input: opts.input,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  return r.status;
}

// Feeds many `ip` subcommands to one process (`ip -n NS -batch -`); stops at the first failure,
// whose line number ip prints in stderr.
export function runIpBatch(ns: string | undefined, lines: readonly string[]): Promise<string> {
  if (lines.length === 0) return Promise.resolve('');
  const argv = ns === undefined ? ['ip', '-batch', '-'] : ['ip', '-n', ns, '-batch', '-'];
  return runCommand(argv, { input: lines.join('\n') + '\n' }).catch((err: unknown) => {
    // ip reports the failing line as `Command failed -:N`; quote that line.
    const m = err instanceof Error ? /Command failed -:(\d+)/.exec(err.message) : null;
    const line = m === null ? undefined : lines[Number(m[1]) - 1];
    if (line === undefined || !(err instanceof Error)) throw err;
    throw new BraidError('BRAID_TESTBED', `${err.message} (batch line ${m?.[1]}: \`${line}\`)`, { cause: err });
  });
}
