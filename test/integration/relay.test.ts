// End-to-end through a braid pair on a real two-path topology: integrity both ways, many
// connections, IPv6, half-close, fallback to plain TCP, a native MPTCP peer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MiB, Pair } from './pair';

describe('braid pair over two paths (IPv4)', () => {
  let pair: Pair;
  before(async () => {
    pair = await Pair.create();
  });
  after(async () => pair?.destroy());

  it('carries 64 MiB each way with matching sha256', async () => {
    const { report } = await pair.hashClient(1, 64 * MiB, 64 * MiB);
    assert.equal(report.ok, true, JSON.stringify(report));
  });

  it('carries 100 concurrent connections of random sizes intact, and keeps no socket after', async () => {
    const sockets = [pair.client.openSockets(), pair.server!.openSockets()];
    const { report } = await pair.hashClient(100, 2 * MiB, 2 * MiB, { random: true });
    assert.equal(report.count, 100);
    assert.equal(report.failed, 0, JSON.stringify(report.results));
    await pair.settledMetric(pair.server!, /braid_connections_total\{listener="in4",outcome="mptcp"\} (\d+)/, (v) => v >= 101);
    assert.deepEqual([pair.client.openSockets(), pair.server!.openSockets()], sockets);
  });

  it('keeps a half-closed connection open for the whole answer', async () => {
    // after-eof: the server answers only once the client has shut its write side.
    const { report } = await pair.hashClient(3, 1 * MiB, 8 * MiB, { mode: 'after-eof' });
    assert.equal(report.ok, true, JSON.stringify(report));
  });

  it('negotiates MPTCP and counts the connections as such', async () => {
    const mptcp = await pair.settledMetric(pair.client, /braid_connections_total\{listener="out",outcome="mptcp"\} (\d+)/, (v) => v >= 104);
    assert.ok(mptcp >= 104, `client counted ${mptcp} MPTCP connections`);
    const inbound = await pair.settledMetric(pair.server!, /braid_connections_total\{listener="in4",outcome="mptcp"\} (\d+)/, (v) => v >= 104);
    assert.ok(inbound >= 104, `server counted ${inbound} MPTCP connections`);
    const fallback = await pair.metric(pair.client, /braid_connections_total\{listener="out",outcome="fallback"\} (\d+)/);
    assert.equal(fallback, 0);
  });
});

describe('braid pair over two paths (IPv6)', () => {
  let pair: Pair;
  before(async () => {
    pair = await Pair.create({ family: 6 });
  });
  after(async () => pair?.destroy());

  it('carries 16 MiB each way to an IPv6 upstream, over MPTCP', async () => {
    const { report } = await pair.hashClient(4, 16 * MiB, 16 * MiB);
    assert.equal(report.ok, true, JSON.stringify(report));
    const v6 = await pair.settledMetric(pair.server!, /braid_connections_total\{listener="in6",outcome="mptcp"\} (\d+)/, (v) => v >= 4);
    assert.equal(v6, 4);
  });
});

describe('peers without braid', () => {
  it('falls back to plain TCP when the server does not speak MPTCP, and says so', async () => {
    const pair = await Pair.create({ server: 'tcp' });
    try {
      const { report } = await pair.hashClient(2, 4 * MiB, 4 * MiB);
      assert.equal(report.ok, true, JSON.stringify(report));
      const fallback = await pair.settledMetric(pair.client, /braid_connections_total\{listener="out",outcome="fallback"\} (\d+)/, (v) => v >= 2);
      assert.equal(fallback, 2);
    } finally {
      await pair.destroy();
    }
  });

  it('negotiates MPTCP with an MPTCP-capable server that has no braid', async () => {
    const pair = await Pair.create({ server: 'mptcpize' });
    try {
      const { report } = await pair.hashClient(2, 4 * MiB, 4 * MiB);
      assert.equal(report.ok, true, JSON.stringify(report));
      const mptcp = await pair.settledMetric(pair.client, /braid_connections_total\{listener="out",outcome="mptcp"\} (\d+)/, (v) => v >= 2);
      assert.equal(mptcp, 2);
    } finally {
      await pair.destroy();
    }
  });
});
