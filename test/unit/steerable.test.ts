import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config';
import type { ConnectionSnapshot, DataplaneSnapshot } from '../../src/dataplane/types';
import { steerableConnections } from '../../src/steering/connections';

const CONFIG = `
mptcp: {pathManager: userspace, scheduler: backup-ordered}
paths: [{name: a, interface: eth0}, {name: b, interface: eth1}]
listeners:
  - {name: in, mode: inbound, listen: 0.0.0.0:7000, target: 127.0.0.1:7001, scheduler: numa-local}
  - {name: in2, mode: inbound, listen: 0.0.0.0:7002, target: 127.0.0.1:7001, paths: [b, a]}
  - {name: out, mode: transparent}
policies:
  - {name: redis, match: {ports: [6379]}, action: mptcp, scheduler: numa-local}
  - {name: rest, action: mptcp, paths: [b]}
`;

function conn(over: Partial<ConnectionSnapshot>): ConnectionSnapshot {
  return {
    id: 1, listener: 'in', policy: '', worker: 0, state: 'relaying', client: 'c', upstream: 'u', outcome: 'mptcp',
    ageMs: 1, bytesUp: 0, bytesDown: 0, subflows: [], token: 5, appLocal: '127.0.0.1:1', appRemote: '127.0.0.1:7001', ...over,
  };
}

describe('steerableConnections', () => {
  const rt = parseConfigText(CONFIG, 't.yaml').runtime;
  const snapshot = (connections: ConnectionSnapshot[]): DataplaneSnapshot => ({ connections, addressBytes: [], accepted: 0, refused: 0, active: connections.length });

  it('takes the scheduler from the policy, else the listener, else mptcp.scheduler', () => {
    const got = steerableConnections(
      snapshot([
        conn({ id: 1 }),
        conn({ id: 2, listener: 'in2' }),
        conn({ id: 3, listener: 'out', policy: 'redis' }),
        conn({ id: 4, listener: 'out', policy: 'rest' }),
      ]),
      rt,
    );
    assert.deepEqual(got.map((c) => [c.id, c.scheduler, c.order]), [
      [1, 'numa-local', []],
      [2, 'backup-ordered', ['b', 'a']],
      [3, 'numa-local', []],
      [4, 'backup-ordered', ['b']],
    ]);
  });

  it('skips connections that are not MPTCP or whose application end is unknown', () => {
    const got = steerableConnections(snapshot([conn({ id: 1, token: 0 }), conn({ id: 2, token: undefined }), conn({ id: 3, appLocal: undefined })]), rt);
    assert.deepEqual(got, []);
  });
});
