// The process logger: pino JSON lines on stdout. Writes are asynchronous (SonicBoom buffers);
// flushLogger() drains what is buffered, for use right before the process exits.
import pino from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';

export type LogLevel = Level | 'silent';
export type { Logger };

const destinations = new Set<{ flushSync(): void }>();

/** A JSON logger at `level`. Writes to stdout (fd 1) unless a destination is given (tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return pino(options, destination);
  const stdout = pino.destination({ dest: 1, sync: false });
  destinations.add(stdout);
  return pino(options, stdout);
}

/** Write out everything buffered on stdout loggers, synchronously. Safe to call repeatedly. */
export function flushLogger(): void {
  for (const destination of destinations) {
    try {
      destination.flushSync();
    } catch {
      // stdout already closed (e.g. the reading end of a pipe went away): nothing left to do.
    }
  }
}
