// The endpoint state file: what braid changed in the kernel path manager of one network
// namespace, written BEFORE each change so a braid that crashed (SIGKILL, OOM) can be
// cleaned up by the next one started in the same namespace.
//
// Layout: <stateDir>/netns-<inode of /proc/self/ns/net>/endpoints.json, replaced atomically
// (write to a temporary file, fsync, rename).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BraidError } from '../errors';
import type { EndpointFlag, PmLimits } from '../dataplane/types';

export const DEFAULT_STATE_DIR = '/run/braid';
const STATE_VERSION = 1;

export interface StateEndpoint {
  id: number;
  address: string; // canonical spelling
  path: string;
  interface: string;
  ifindex: number;
  flags: EndpointFlag[];
}

export interface OwnerState {
  version: typeof STATE_VERSION;
  pid: number;
  /** Start time of `pid` (field 22 of /proc/<pid>/stat): tells a live owner from a reused pid. */
  startTime: string;
  netns: number;
  /** Limits found before braid changed them; null until braid is about to change them. */
  limits: { previous: PmLimits; desired: PmLimits } | null;
  /** Endpoints braid added or is about to add (intent first, then the netlink request). */
  endpoints: StateEndpoint[];
  /** net.mptcp.path_manager found before braid set it to "userspace"; absent when braid left it alone. */
  pathManager?: { previous: string };
}

/** Inode of this process's network namespace: the key that keeps namespaces' state apart. */
export function netnsInode(): number {
  return statSync('/proc/self/ns/net').ino;
}

export function stateFilePath(stateDir: string, netns: number): string {
  return join(stateDir, `netns-${netns}`, 'endpoints.json');
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined if there is no such process. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields after it do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3];
}

/** The owner recorded in a state file is still running (same pid AND same start time). */
export function ownerAlive(state: Pick<OwnerState, 'pid' | 'startTime'>): boolean {
  const start = processStartTime(state.pid);
  return start !== undefined && start === state.startTime;
}

export function freshState(netns: number): OwnerState {
  return {
    version: STATE_VERSION,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? '',
    netns,
    limits: null,
    endpoints: [],
  };
}

function isLimits(v: unknown): v is PmLimits {
  const o = v as PmLimits | null;
  return typeof o === 'object' && o !== null && Number.isInteger(o.subflows) && Number.isInteger(o.addAddrAccepted);
}

function isStateEndpoint(v: unknown): v is StateEndpoint {
  const o = v as StateEndpoint | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    Number.isInteger(o.id) &&
    typeof o.address === 'string' &&
    typeof o.path === 'string' &&
    typeof o.interface === 'string' &&
    Number.isInteger(o.ifindex) &&
    Array.isArray(o.flags)
  );
}

function parseState(text: string): OwnerState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as OwnerState | null;
  if (typeof o !== 'object' || o === null || o.version !== STATE_VERSION) return undefined;
  if (!Number.isInteger(o.pid) || typeof o.startTime !== 'string' || !Number.isInteger(o.netns)) return undefined;
  if (o.limits !== null && !(isLimits(o.limits?.previous) && isLimits(o.limits?.desired))) return undefined;
  if (!Array.isArray(o.endpoints) || !o.endpoints.every(isStateEndpoint)) return undefined;
  if (o.pathManager !== undefined && !(typeof o.pathManager === 'object' && o.pathManager !== null && typeof o.pathManager.previous === 'string')) {
    return undefined;
  }
  return o;
}

export class StateFile {
  constructor(readonly file: string) {}

  /** The recorded state, or undefined when there is none. A file braid cannot read is an error, not "none". */
  read(): OwnerState | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.error('cannot read', err);
    }
    const state = parseState(text);
    if (state === undefined) {
      // Refuse rather than guess: dropping it would leak the endpoints it lists.
      throw new BraidError(
        'BRAID_PATH_STATE',
        `endpoint state file ${this.file} is not valid braid state; compare it with ` +
          `\`ip mptcp endpoint show\`, remove stale endpoints by hand, then delete the file`,
      );
    }
    return state;
  }

  write(state: OwnerState): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o755 });
      const fd = openSync(tmp, 'w', 0o644);
      try {
        writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw this.error('cannot write', err);
    }
  }

  remove(): void {
    try {
      rmSync(this.file, { force: true });
    } catch (err) {
      throw this.error('cannot remove', err);
    }
  }

  private error(what: string, err: unknown): BraidError {
    const e = err as NodeJS.ErrnoException;
    const options = e.errno === undefined ? { cause: err } : { cause: err, errno: Math.abs(e.errno) };
    return new BraidError('BRAID_PATH_STATE', `${what} endpoint state file ${this.file}: ${e.message}`, options);
  }
}
