// Runtime config -> the flat spec the native data plane copies. Pure; table-tested.
import type { RuntimeConfig } from '../config';
import type { NativeDataplaneSpec, NativeListenerSpec } from './types';

/** Pipe per relay direction: large enough that one splice moves a burst, small enough for 10k connections. */
export const PIPE_SIZE = 256 * 1024;
export const SUBFLOW_POLL_MS = 1000;

export function dataplaneSpec(config: RuntimeConfig): NativeDataplaneSpec {
  // Transparent listeners are not in the data plane yet (they need SO_ORIGINAL_DST dialling and
  // the nftables table); the others keep id = index + 1 so ids still name config entries.
  const listeners: NativeListenerSpec[] = config.listeners.flatMap((l, index) => (l.mode !== 'forward' && l.mode !== 'inbound' ? [] : [{
    id: index + 1,
    name: l.name,
    mode: l.mode,
    listen: { host: l.listen.host, port: l.listen.port },
    // forward: plain TCP from the local app, MPTCP to the far side; inbound: the reverse.
    listenProtocol: l.mode === 'forward' ? 'tcp' : 'mptcp',
    target: { host: l.target.host, port: l.target.port },
    targetProtocol: l.mode === 'forward' ? 'mptcp' : 'tcp',
    backlog: l.backlog,
  }]));
  return {
    workers: config.workers,
    maxConnections: config.limits.maxConnections,
    connectTimeoutMs: config.timeouts.connectMs,
    idleTimeoutMs: config.timeouts.idleMs,
    pipeSize: PIPE_SIZE,
    subflowPollMs: SUBFLOW_POLL_MS,
    upstreamMark: 0,
    listeners,
  };
}
