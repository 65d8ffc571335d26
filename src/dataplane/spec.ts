// Runtime config -> the flat spec the native data plane copies. Listeners are added after the
// data plane opens (see listeners.ts), the same way at start and on reload.
import type { RuntimeConfig } from '../config';
import { BYPASS_MARK } from '../policy';
import type { NativeDataplaneSpec } from './types';

/** Pipe per relay direction for bulk streams: large enough that one splice moves a burst. */
export const PIPE_SIZE = 256 * 1024;
export const SUBFLOW_POLL_MS = 1000;

/** workerCpus: the CPUs each worker is pinned to (see src/topology/placement.ts); [] leaves all unpinned. */
export function dataplaneSpec(config: RuntimeConfig, workerCpus: number[][] = []): NativeDataplaneSpec {
  return {
    workers: config.workers,
    maxConnections: config.limits.maxConnections,
    connectTimeoutMs: config.timeouts.connectMs,
    idleTimeoutMs: config.timeouts.idleMs,
    pipeSize: PIPE_SIZE,
    subflowPollMs: SUBFLOW_POLL_MS,
    // Every socket braid dials carries the mark its own nftables rules let pass: no loops.
    upstreamMark: BYPASS_MARK,
    listeners: [],
    ...(workerCpus.some((c) => c.length > 0) ? { workerCpus } : {}),
  };
}
