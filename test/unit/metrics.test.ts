import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DataplaneSnapshot } from '../../src/dataplane/types';
import { channels, publishDataplaneEvents } from '../../src/observability/events';
import { createMetrics, DeltaTracker, RELOAD_RESULTS, type Metrics } from '../../src/observability/metrics';
import {
  closeEvent,
  emptySnapshot,
  establishedEvent,
  openEvent,
  pathForAddress,
  sampleSnapshot,
  subflow,
  subflowEvent,
} from '../helpers/fixtures';
import { metricValue } from '../helpers/metrics';

let current: Metrics | undefined;
afterEach(() => {
  current?.dispose();
  current = undefined;
});

/** Metrics over a snapshot the test can replace between scrapes. */
function setup(initial: DataplaneSnapshot = emptySnapshot()) {
  const state = { snapshot: initial, calls: 0 };
  current = createMetrics({
    snapshot: () => {
      state.calls += 1;
      return state.snapshot;
    },
    pathForAddress,
  });
  return { registry: current.registry, state };
}

describe('metrics from connection events', () => {
  it('counts closes by listener and outcome, by reason, and sums bytes per direction', async () => {
    const { registry } = setup();
    publishDataplaneEvents([
      openEvent({ id: 1 }),
      closeEvent({ id: 1, outcome: 'mptcp', reason: 'done', bytesUp: 100, bytesDown: 5000 }),
      closeEvent({ id: 2, outcome: 'mptcp', reason: 'reset', bytesUp: 1, bytesDown: 2 }),
      closeEvent({ id: 3, outcome: 'fallback', reason: 'done', bytesUp: 10, bytesDown: 20 }),
      closeEvent({ id: 4, listener: 'db', outcome: 'error', reason: 'connect-error', errno: 111, bytesUp: 0, bytesDown: 0 }),
    ]);
    const total = (labels: Record<string, string>) => metricValue(registry, 'braid_connections_total', labels);
    assert.equal(await total({ listener: 'web', outcome: 'mptcp' }), 2);
    assert.equal(await total({ listener: 'web', outcome: 'fallback' }), 1);
    assert.equal(await total({ listener: 'db', outcome: 'error' }), 1);
    assert.equal(await total({ listener: 'web', outcome: 'tcp' }), undefined);

    const closes = (labels: Record<string, string>) => metricValue(registry, 'braid_connection_closes_total', labels);
    assert.equal(await closes({ listener: 'web', reason: 'done' }), 2);
    assert.equal(await closes({ listener: 'web', reason: 'reset' }), 1);
    assert.equal(await closes({ listener: 'db', reason: 'connect-error' }), 1);

    const bytes = (labels: Record<string, string>) => metricValue(registry, 'braid_bytes_total', labels);
    assert.equal(await bytes({ listener: 'web', direction: 'up' }), 111);
    assert.equal(await bytes({ listener: 'web', direction: 'down' }), 5022);
    assert.equal(await bytes({ listener: 'db', direction: 'up' }), 0);
  });

  it('observes connect time in seconds into the histogram by listener and outcome', async () => {
    const { registry } = setup();
    publishDataplaneEvents([
      establishedEvent({ connectUs: 300 }),
      establishedEvent({ connectUs: 2_000_000 }),
      establishedEvent({ outcome: 'fallback', connectUs: 50 }),
    ]);
    const h = (labels: Record<string, string | number>, suffix: string) =>
      metricValue(registry, 'braid_connect_duration_seconds', labels, `braid_connect_duration_seconds${suffix}`);
    const mptcp = { listener: 'web', outcome: 'mptcp' };
    assert.equal(await h(mptcp, '_count'), 2);
    assert.ok(Math.abs((await h(mptcp, '_sum'))! - 2.0003) < 1e-9);
    assert.equal(await h({ ...mptcp, le: 0.0001 }, '_bucket'), 0);
    assert.equal(await h({ ...mptcp, le: 0.0005 }, '_bucket'), 1);
    assert.equal(await h({ ...mptcp, le: 1 }, '_bucket'), 1);
    assert.equal(await h({ ...mptcp, le: 2.5 }, '_bucket'), 2);
    assert.equal(await h({ ...mptcp, le: 10 }, '_bucket'), 2);
    assert.equal(await h({ listener: 'web', outcome: 'fallback', le: 0.0001 }, '_bucket'), 1);
  });

  it('counts subflow additions and removals by path', async () => {
    const { registry } = setup();
    publishDataplaneEvents([
      subflowEvent({ action: 'added', subflow: subflow({ local: '198.18.1.1:1' }) }),
      subflowEvent({ action: 'added', subflow: subflow({ local: '198.18.3.1:2' }) }),
      subflowEvent({ action: 'removed', subflow: subflow({ local: '198.18.3.1:2' }) }),
      subflowEvent({ action: 'added', subflow: subflow({ local: '203.0.113.9:3' }) }),
    ]);
    const ev = (labels: Record<string, string>) => metricValue(registry, 'braid_subflow_events_total', labels);
    assert.equal(await ev({ path: 'a', action: 'added' }), 1);
    assert.equal(await ev({ path: 'b', action: 'added' }), 1);
    assert.equal(await ev({ path: 'b', action: 'removed' }), 1);
    assert.equal(await ev({ path: 'unknown', action: 'added' }), 1);
  });

  it('stops counting after dispose and leaves no subscriber behind', async () => {
    const first = setup();
    current!.dispose();
    assert.equal(channels.close.hasSubscribers, false);
    assert.equal(channels.open.hasSubscribers, false);
    publishDataplaneEvents([closeEvent()]);
    const { registry } = setup();
    publishDataplaneEvents([closeEvent()]);
    assert.equal(await metricValue(registry, 'braid_connections_total', { listener: 'web', outcome: 'mptcp' }), 1);
    assert.equal(first.registry.getSingleMetric('braid_connections_total'), undefined);
  });
});

describe('metrics read from the snapshot at scrape', () => {
  it('reports active connections per listener, keeping a listener at 0 once it empties', async () => {
    const { registry, state } = setup(sampleSnapshot());
    const active = (listener: string) => metricValue(registry, 'braid_connections_active', { listener });
    assert.equal(await active('web'), 2);
    assert.equal(await active('db'), 1);
    state.snapshot = emptySnapshot();
    assert.equal(await active('web'), 0);
    assert.equal(await active('db'), 0);
  });

  it('counts open subflows by path, not the closed ones', async () => {
    const snapshot = sampleSnapshot();
    snapshot.connections[1]!.subflows = [
      subflow({ local: '198.18.1.1:5' }),
      subflow({ local: '198.18.1.1:6', closed: true }),
      subflow({ local: '[2001:db8::1]:7' }),
    ];
    const { registry, state } = setup(snapshot);
    const active = (path: string) => metricValue(registry, 'braid_subflows_active', { path });
    assert.equal(await active('a'), 2);
    assert.equal(await active('b'), 1);
    assert.equal(await active('v6'), 1);
    state.snapshot = emptySnapshot();
    assert.equal(await active('a'), 0);
  });

  it('turns monotonic per-address byte totals into per-path increments', async () => {
    const { registry, state } = setup(
      emptySnapshot({ addressBytes: [{ address: '198.18.1.1', sent: 100, received: 50 }] }),
    );
    const bytes = async (path: string, direction: string) => {
      await registry.metrics(); // one scrape
      return metricValue(registry, 'braid_path_bytes_total', { path, direction });
    };
    assert.equal(await bytes('a', 'sent'), 100);
    assert.equal(await metricValue(registry, 'braid_path_bytes_total', { path: 'a', direction: 'received' }), 50);

    // Next scrape: a grew, b and an unmapped address appear for the first time (full total is new).
    state.snapshot = emptySnapshot({
      addressBytes: [
        { address: '198.18.1.1', sent: 250, received: 50 },
        { address: '198.18.3.1', sent: 40, received: 7 },
        { address: '203.0.113.9', sent: 3, received: 4 },
      ],
    });
    assert.equal(await bytes('a', 'sent'), 250);
    assert.equal(await metricValue(registry, 'braid_path_bytes_total', { path: 'b', direction: 'sent' }), 40);
    assert.equal(await metricValue(registry, 'braid_path_bytes_total', { path: 'b', direction: 'received' }), 7);
    assert.equal(await metricValue(registry, 'braid_path_bytes_total', { path: 'unknown', direction: 'received' }), 4);

    // Unchanged totals add nothing.
    assert.equal(await bytes('a', 'sent'), 250);
  });

  it('sums addresses that map to the same path', async () => {
    const { registry } = setup(
      emptySnapshot({
        addressBytes: [
          { address: '198.18.1.1', sent: 10, received: 0 },
          { address: '203.0.113.1', sent: 5, received: 0 },
          { address: '203.0.113.2', sent: 6, received: 0 },
        ],
      }),
    );
    await registry.metrics();
    assert.equal(await metricValue(registry, 'braid_path_bytes_total', { path: 'unknown', direction: 'sent' }), 11);
  });

  it('follows accepted and refused totals from the data plane', async () => {
    const { registry, state } = setup(emptySnapshot({ accepted: 5, refused: 1 }));
    assert.equal(await metricValue(registry, 'braid_accepted_total'), 5);
    assert.equal(await metricValue(registry, 'braid_refused_total'), 1);
    state.snapshot = emptySnapshot({ accepted: 12, refused: 1 });
    assert.equal(await metricValue(registry, 'braid_accepted_total'), 12);
    assert.equal(await metricValue(registry, 'braid_refused_total'), 1);
  });

  it('takes one snapshot per scrape and exports prefixed process metrics', async () => {
    const { registry, state } = setup(sampleSnapshot());
    const text = await registry.metrics();
    assert.equal(state.calls, 1);
    assert.match(text, /^braid_process_cpu_user_seconds_total \d/m);
    assert.match(text, /^braid_connections_active\{listener="web"\} 2$/m);
    assert.match(text, /^braid_accepted_total 10$/m);
    await registry.metrics();
    assert.equal(state.calls, 2);
  });
});

describe('config reload metrics', () => {
  it('exports every result at 0 from the start, and a last-success time from the initial load', async () => {
    const before = Date.now() / 1000;
    const { registry } = setup();
    for (const result of RELOAD_RESULTS) assert.equal(await metricValue(registry, 'braid_config_reloads_total', { result }), 0, result);
    const stamp = await metricValue(registry, 'braid_config_last_reload_success_timestamp_seconds');
    assert.ok(stamp !== undefined && stamp >= Math.floor(before), `stamp ${stamp} before ${before}`);
  });

  it('counts reloads by result and stamps only a reload that applied a change', async () => {
    const { registry } = setup();
    const stamp = () => metricValue(registry, 'braid_config_last_reload_success_timestamp_seconds');
    // Push the initial stamp into the past so an 'ok' visibly moves it (no clock needed).
    registry.getSingleMetric('braid_config_last_reload_success_timestamp_seconds')!.reset();
    assert.equal(await stamp(), 0);
    for (const result of ['invalid', 'failed', 'restart-required', 'unchanged', 'invalid'] as const) current!.reloaded(result);
    assert.equal(await stamp(), 0, 'no result but ok stamps');
    current!.reloaded('ok');
    assert.ok((await stamp())! > 0);
    const reloads = (result: string) => metricValue(registry, 'braid_config_reloads_total', { result });
    assert.equal(await reloads('invalid'), 2);
    assert.equal(await reloads('failed'), 1);
    assert.equal(await reloads('restart-required'), 1);
    assert.equal(await reloads('unchanged'), 1);
    assert.equal(await reloads('ok'), 1);
  });
});

describe('DeltaTracker', () => {
  it('returns growth since the last total, the whole total for a new key or after a restart', () => {
    const t = new DeltaTracker();
    assert.equal(t.delta('x', 10), 10);
    assert.equal(t.delta('x', 15), 5);
    assert.equal(t.delta('x', 15), 0);
    assert.equal(t.delta('y', 3), 3);
    assert.equal(t.delta('x', 4), 4); // source restarted from 0
    assert.equal(t.delta('x', 6), 2);
  });
});
