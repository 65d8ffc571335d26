import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeWorkers } from '../../src/topology/placement';

describe('placeWorkers', () => {
  it('leaves workers unpinned on a one-node machine', () => {
    const p = placeWorkers({ nodes: [{ id: 0, cpus: [0, 1, 2, 3] }], source: 't' }, 3);
    assert.deepEqual(p.cpus, [[], [], []]);
    assert.deepEqual(p.nodes, [undefined, undefined, undefined]);
  });

  it('pins each worker to one node, nodes taking turns and workers in proportion to CPUs', () => {
    const topo = { nodes: [{ id: 0, cpus: [0, 1, 2, 3] }, { id: 1, cpus: [4, 5] }], source: 't' };
    const p = placeWorkers(topo, 6);
    assert.deepEqual(p.nodes, [0, 1, 0, 1, 0, 0]);
    assert.deepEqual(p.cpus[1], [4, 5]);
    assert.deepEqual(placeWorkers(topo, 2).nodes, [0, 1], 'two workers: one per node');
    assert.deepEqual(placeWorkers(topo, 8).nodes, [0, 1, 0, 1, 0, 0, 0, 1], 'more workers than CPUs wrap around');
  });
});
