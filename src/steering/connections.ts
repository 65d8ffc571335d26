// Which data-plane connections steering looks at, and with which scheduler: the connection's
// policy (transparent listeners) or its listener decides, else mptcp.scheduler. Pure.
import type { RuntimeConfig } from '../config';
import type { DataplaneSnapshot } from '../dataplane/types';
import type { SteerableConnection } from './steering';

export function steerableConnections(snapshot: DataplaneSnapshot, rt: RuntimeConfig): SteerableConnection[] {
  const out: SteerableConnection[] = [];
  for (const c of snapshot.connections) {
    // Not MPTCP, or the local application's socket not known yet: nothing to steer.
    if (c.token === undefined || c.token === 0 || c.appLocal === undefined || c.appRemote === undefined) continue;
    let scheduler = rt.scheduler;
    let order: string[] = [];
    const policy = c.policy !== '' ? rt.policies.find((p) => p.name === c.policy) : undefined;
    if (policy !== undefined) {
      scheduler = policy.scheduler ?? scheduler;
      order = policy.paths;
    } else {
      const listener = rt.listeners.find((l) => l.name === c.listener);
      if (listener !== undefined && listener.mode !== 'transparent') {
        scheduler = listener.scheduler ?? scheduler;
        order = listener.paths;
      }
    }
    out.push({ id: c.id, worker: c.worker, token: c.token, appLocal: c.appLocal, appRemote: c.appRemote, subflows: c.subflows, scheduler, order });
  }
  return out;
}
