import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Steering, type SteerableConnection } from '../../src/steering/steering';

const TOPOLOGY = { nodes: [{ id: 0, cpus: [0] }, { id: 1, cpus: [1] }], source: 'test' };
const PATHS = [
  { id: 1, name: 'a', node: 0, addresses: ['198.18.1.2'] },
  { id: 2, name: 'b', node: 1, addresses: ['198.18.2.2'] },
];

function conn(over: Partial<SteerableConnection> = {}): SteerableConnection {
  return {
    id: 7,
    worker: 0,
    token: 42,
    appLocal: '127.0.0.1:40000',
    appRemote: '127.0.0.1:7001',
    subflows: [],
    scheduler: 'numa-local',
    order: [],
    ...over,
  };
}

describe('Steering', () => {
  it('follows the application from node to node and moves its relay work', () => {
    const prefs: [number, number[][]][] = [];
    const moves: [number, number][] = [];
    let cpu = 1;
    const lookups: string[] = [];
    let c = conn();
    const steering = new Steering({
      pm: () => ({ setPreference: (token, tiers) => prefs.push([token, tiers]) }),
      paths: () => PATHS,
      topology: TOPOLOGY,
      connections: () => [c],
      findSocketOwner: (local, remote) => {
        lookups.push(`${local}->${remote}`);
        return { inode: 1, pid: 1234 };
      },
      processCpus: () => ({ allowed: [cpu], last: cpu }),
      workerNodes: [0, 1],
      moveConnection: (id, worker) => {
        moves.push([id, worker]);
        c = { ...c, worker };
        return true;
      },
    });
    steering.tick();
    assert.deepEqual(lookups, ['127.0.0.1:7001->127.0.0.1:40000'], "the application's own socket is looked up");
    assert.deepEqual(prefs, [[42, [[2], [1]]]]);
    assert.deepEqual(moves, [[7, 1]]);
    steering.tick();
    assert.equal(prefs.length, 1, 'unchanged preference is not sent again');
    assert.equal(lookups.length, 1, 'the owner is cached');
    cpu = 0; // re-pinned
    steering.tick();
    assert.deepEqual(prefs[1], [42, [[1], [2]]]);
    assert.deepEqual(moves[1], [7, 0]);
  });

  it('counts received bytes per path as local or not', () => {
    let c = conn({ subflows: [] });
    const steering = new Steering({
      pm: () => ({ setPreference: () => undefined }),
      paths: () => PATHS,
      topology: TOPOLOGY,
      connections: () => [c],
      findSocketOwner: () => ({ inode: 1, pid: 1 }),
      processCpus: () => ({ allowed: [1], last: 1 }),
    });
    const sub = (local: string, bytesReceived: number) => ({ id: 0, local, remote: 'x:1', bytesSent: 0, bytesReceived, rttUs: 0, backup: false, closed: false });
    c = { ...c, subflows: [sub('198.18.1.2:7000', 100), sub('198.18.2.2:7000', 900)] };
    steering.tick();
    c = { ...c, subflows: [sub('198.18.1.2:7000', 150), sub('198.18.2.2:7000', 1900)] };
    steering.tick();
    assert.deepEqual(steering.stats.receivedBytes.get('a'), { local: 0, remote: 150 });
    assert.deepEqual(steering.stats.receivedBytes.get('b'), { local: 1900, remote: 0 });
  });

  it('leaves plain TCP connections and owners it cannot find alone', () => {
    const prefs: unknown[] = [];
    const steering = new Steering({
      pm: () => ({ setPreference: (...a) => prefs.push(a) }),
      paths: () => PATHS,
      topology: TOPOLOGY,
      connections: () => [conn({ token: 0 }), conn({ id: 8 })],
      findSocketOwner: () => null,
      processCpus: () => null,
    });
    steering.tick();
    assert.deepEqual(prefs, [[42, []]], 'numa-local without a known node sends no tiers');
    assert.equal(steering.stats.ownersNotFound, 1);
  });

  it('evaluates a new connection when kicked, not only at the interval', async () => {
    const prefs: unknown[] = [];
    let conns: SteerableConnection[] = [];
    const steering = new Steering({
      pm: () => ({ setPreference: (...a) => prefs.push(a) }),
      paths: () => PATHS,
      topology: TOPOLOGY,
      connections: () => conns,
      findSocketOwner: () => ({ inode: 1, pid: 1 }),
      processCpus: () => ({ allowed: [0], last: 0 }),
    });
    steering.start(() => 3_600_000);
    try {
      await new Promise((r) => setTimeout(r, 50)); // the first pass, with no connection yet
      conns = [conn()];
      steering.kick();
      for (let i = 0; i < 100 && prefs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(prefs, [[42, [[1], [2]]]]);
    } finally {
      steering.stop();
    }
  });
});
