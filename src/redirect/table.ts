// The nftables table braid owns, driven through the `nft` program (nftables has no maintained
// Node binding). nft runs in the caller's network namespace; the `nft` option lets a caller
// prefix it (tests: ["ip", "netns", "exec", NS, "nft"]).
import { execFile, execFileSync } from 'node:child_process';
import { BraidError } from '../errors';
import { TABLE } from '../policy';
import { parseListing, type RedirectRule } from './listing';

export interface RedirectTableOptions {
  /** Table name in family inet; default "braid". */
  table?: string;
  /** argv that runs nft; default ["nft"]. */
  nft?: readonly string[];
  /** Per nft run; default 10 s. */
  timeoutMs?: number;
}

export interface RedirectStatus {
  table: string; // "inet braid"
  installed: boolean;
  rules: RedirectRule[];
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class RedirectTable {
  readonly table: string;
  private readonly nft: readonly string[];
  private readonly timeoutMs: number;

  constructor(options: RedirectTableOptions = {}) {
    this.table = options.table ?? TABLE;
    this.nft = options.nft ?? ['nft'];
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(this.table)) throw new Error(`RedirectTable: "${this.table}" is not a table name`);
  }

  /** Replaces the table with `ruleset` (compileRuleset's output) in one nft transaction. */
  async install(ruleset: string): Promise<void> {
    await this.run(['-f', '-'], `install table inet ${this.table}`, ruleset);
  }

  /** Deletes the table; does nothing when there is none. */
  async remove(): Promise<void> {
    // Creating it first makes the delete succeed either way, in one transaction.
    await this.run(['-f', '-'], `remove table inet ${this.table}`, `table inet ${this.table} {}\ndelete table inet ${this.table}\n`);
  }

  /** remove() for a crashing process, which has no event loop left to wait on. Never throws. */
  removeSync(): boolean {
    const [file, ...prefix] = this.nft;
    try {
      execFileSync(file!, [...prefix, '-f', '-'], {
        input: `table inet ${this.table} {}\ndelete table inet ${this.table}\n`,
        timeout: this.timeoutMs,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      return true;
    } catch {
      return false;
    }
  }

  async exists(): Promise<boolean> {
    const out = await this.run(['-j', 'list', 'tables'], 'list tables');
    const items = (parseJson(out, 'list tables')['nftables'] ?? []) as { table?: { family?: string; name?: string } }[];
    return items.some((i) => i.table?.family === 'inet' && i.table.name === this.table);
  }

  /** Every rule of the table with its counters; installed false (and no rules) when there is no table. */
  async status(): Promise<RedirectStatus> {
    const table = `inet ${this.table}`;
    if (!(await this.exists())) return { table, installed: false, rules: [] };
    const json = await this.run(['-j', 'list', 'table', 'inet', this.table], `list table ${table}`);
    const text = await this.run(['-a', 'list', 'table', 'inet', this.table], `list table ${table}`);
    parseJson(json, `list table ${table}`);
    return { table, installed: true, rules: parseListing(json, text) };
  }

  private run(args: readonly string[], what: string, input?: string): Promise<string> {
    const [file, ...prefix] = this.nft;
    const argv = [...prefix, ...args];
    return new Promise((resolve, reject) => {
      const child = execFile(file!, argv, { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        let detail: string;
        if (e.killed === true) detail = `nft did not finish within ${this.timeoutMs} ms`;
        else if (typeof e.code === 'number') detail = stderr.trim() || stdout.trim() || `exit ${e.code}`;
        else if (e.code === 'ENOENT') detail = `cannot run ${file}: not found (install nftables)`;
        else detail = e.message;
        reject(new BraidError('BRAID_REDIRECT', `nftables: ${what} failed: ${detail}`, { cause: err }));
      });
      // An EPIPE when nft exits before reading is reported through the exit status above.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
  }
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new BraidError('BRAID_REDIRECT', `nftables: ${what}: nft -j printed no JSON`, { cause: err });
  }
}
