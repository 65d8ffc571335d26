// Named network namespaces: list them, find and kill every process inside, delete them.
// Processes are found through /proc/<pid>/ns/net (what `ip netns pids` does), so children
// of children are caught too; a namespace with a live process would outlive `ip netns del`.
import { readdirSync, statSync } from 'node:fs';
import { runCommand, runCommandSync } from './command';

const NETNS_DIR = '/run/netns';
const POLL_MS = 25;

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return []; // no namespace was ever named on this host
  }
}

function nsIdentity(name: string): string | undefined {
  try {
    const st = statSync(`${NETNS_DIR}/${name}`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

// Pids of the processes whose network namespace is one of `names`.
export function pidsInNetns(names: readonly string[]): number[] {
  const wanted = new Set<string>();
  for (const n of names) {
    const id = nsIdentity(n);
    if (id !== undefined) wanted.add(id);
  }
  if (wanted.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const st = statSync(`/proc/${entry}/ns/net`);
      if (wanted.has(`${st.dev}:${st.ino}`)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or a zombie (no namespace left): nothing to kill
    }
  }
  return pids;
}

export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// SIGTERM everything inside, wait up to graceMs, then SIGKILL what is left and wait for it.
export async function killNetnsProcesses(names: readonly string[], graceMs: number): Promise<void> {
  let pids = pidsInNetns(names);
  if (pids.length === 0) return;
  signalAll(pids, 'SIGTERM');
  for (const deadline = Date.now() + graceMs; pids.length > 0 && Date.now() < deadline; ) {
    await sleep(POLL_MS);
    pids = pidsInNetns(names);
  }
  for (const deadline = Date.now() + 2000; pids.length > 0 && Date.now() < deadline; ) {
    signalAll(pids, 'SIGKILL');
    await sleep(POLL_MS);
    pids = pidsInNetns(names);
  }
}

// Same as killNetnsProcesses, blocking: for exit and signal handlers.
export function killNetnsProcessesSync(names: readonly string[], graceMs: number): void {
  let pids = pidsInNetns(names);
  if (pids.length === 0) return;
  signalAll(pids, 'SIGTERM');
  for (const deadline = Date.now() + graceMs; pids.length > 0 && Date.now() < deadline; ) {
    sleepSync(POLL_MS);
    pids = pidsInNetns(names);
  }
  for (const deadline = Date.now() + 2000; pids.length > 0 && Date.now() < deadline; ) {
    signalAll(pids, 'SIGKILL');
    sleepSync(POLL_MS);
    pids = pidsInNetns(names);
  }
}

// Deletes those of `names` that exist; -force keeps going past one that vanished meanwhile.
// Devices inside (veths, bridges, qdiscs) go with their namespace.
export async function deleteNetns(names: readonly string[]): Promise<void> {
  const present = new Set(listNetns());
  const lines = names.filter((n) => present.has(n)).map((n) => `netns del ${n}`);
  if (lines.length === 0) return;
  await runCommand(['ip', '-force', '-batch', '-'], { input: lines.join('\n') + '\n' }).catch(() => undefined);
  const left = listNetns().filter((n) => names.includes(n));
  if (left.length > 0) {
    // one by one, so the error names the namespace that would not go
    for (const n of left) await runCommand(['ip', 'netns', 'del', n]);
  }
}

export function deleteNetnsSync(names: readonly string[]): void {
  const present = new Set(listNetns());
  for (const n of names) if (present.has(n)) runCommandSync(['ip', 'netns', 'del', n]);
}
