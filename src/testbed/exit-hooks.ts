// Tears down live test beds when the process ends in any ordinary way: normal exit,
// SIGINT, SIGTERM, SIGHUP or an uncaught exception. Handlers are installed once, while at
// least one bed is live, and removed with the last one. (SIGKILL cannot be caught; sweepStale()
// covers that case on the next run.)

export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function destroyAllSync(): void {
  for (const bed of [...live]) {
    try {
      bed.destroySync();
    } catch {
      // keep going: the other beds must still go
    }
  }
  live.clear();
}

function onExit(): void {
  destroyAllSync();
}

function onUncaught(): void {
  // A monitor, not a handler: the process still crashes as it would have (and 'exit' follows).
  destroyAllSync();
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAllSync();
  uninstall();
  // Our listener replaced the default action (die by the signal). If nobody else is
  // listening, restore it by raising the signal again, so the exit status stays honest.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  process.on('uncaughtExceptionMonitor', onUncaught);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  process.off('uncaughtExceptionMonitor', onUncaught);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function registerForExit(bed: SyncDestroyable): void {
  live.add(bed);
  install();
}

export function unregisterForExit(bed: SyncDestroyable): void {
  live.delete(bed);
  if (live.size === 0) uninstall();
}
