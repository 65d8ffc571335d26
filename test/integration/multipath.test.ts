// Multipath in use and surviving a path failure, on two paths shaped to 100 Mbit/s each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MiB, Pair } from './pair';

async function txBytes(pair: Pair): Promise<[number, number]> {
  const [a, b] = await Promise.all([pair.bed.counters(0, 0), pair.bed.counters(0, 1)]);
  return [a.txBytes, b.txBytes];
}

describe('multipath on two shaped paths', () => {
  let pair: Pair;
  before(async () => {
    pair = await Pair.create({ rate: '100mbit' });
  });
  after(async () => pair?.destroy());

  it('spreads one connection over both interfaces', async () => {
    const before = await txBytes(pair);
    const { report } = await pair.hashClient(1, 40 * MiB, 0);
    assert.equal(report.ok, true, JSON.stringify(report));
    const afterTx = await txBytes(pair);
    const d0 = afterTx[0] - before[0];
    const d1 = afterTx[1] - before[1];
    const total = d0 + d1;
    assert.ok(total >= 40 * MiB, `only ${total} bytes left the client node`);
    assert.ok(d0 / total > 0.25 && d1 / total > 0.25, `path shares ${(d0 / total).toFixed(2)} / ${(d1 / total).toFixed(2)}`);
  });

  it('reports both subflows of a live connection with their paths', async () => {
    const running = pair.hashClient(1, 24 * MiB, 0);
    let subflows: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 30 && subflows.filter((s) => !s.closed).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const conns = await pair.client.connections();
      subflows = (conns[0]?.subflows as Array<Record<string, unknown>>) ?? [];
    }
    const { report } = await running;
    assert.equal(report.ok, true);
    const paths = subflows.filter((s) => !s.closed).map((s) => s.path).sort();
    assert.deepEqual(paths, ['nic0', 'nic1'], JSON.stringify(subflows));
  });

  it('finishes a transfer intact when a path goes down in the middle', async () => {
    const running = pair.hashClient(1, 48 * MiB, 8 * MiB);
    await new Promise((r) => setTimeout(r, 1000));
    const mid = await txBytes(pair);
    await pair.bed.setLink(0, 0, false);
    try {
      const { report } = await running;
      assert.equal(report.ok, true, JSON.stringify(report));
      const end = await txBytes(pair);
      assert.ok(end[1] - mid[1] > 16 * MiB, 'the surviving path carried the rest');
    } finally {
      await pair.bed.setLink(0, 0, true);
    }
  });
});
