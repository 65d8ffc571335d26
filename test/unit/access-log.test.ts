import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { subscribeAccessLog } from '../../src/observability/access-log';
import { channels, publishDataplaneEvents } from '../../src/observability/events';
import { createLogger, type LogLevel } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { closeEvent, emptySnapshot, establishedEvent, openEvent, pathForAddress, subflow, subflowEvent } from '../helpers/fixtures';
import { metricValue } from '../helpers/metrics';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

/** An access log whose pino lines land, parsed, in the returned array. */
function capture(level: LogLevel): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  cleanups.push(subscribeAccessLog(logger));
  return lines;
}

describe('access log', () => {
  it('writes one info line per closed connection with every field of the close', () => {
    const lines = capture('info');
    publishDataplaneEvents([
      openEvent({ id: 42 }),
      establishedEvent({ id: 42 }),
      closeEvent({
        id: 42,
        listener: 'web',
        client: '127.0.0.1:50000',
        upstream: '198.18.2.2:8080',
        outcome: 'mptcp',
        reason: 'reset',
        errno: 104,
        durationMs: 1234,
        bytesUp: 100,
        bytesDown: 5000,
        subflows: [
          subflow({ id: 1, local: '198.18.1.1:40000', bytesSent: 60, bytesReceived: 3000, rttUs: 1500 }),
          subflow({ id: 2, local: '198.18.3.1:40001', remote: '198.18.4.2:8080', bytesSent: 40, bytesReceived: 2000, rttUs: 900, backup: true, closed: true }),
        ],
      }),
    ]);
    assert.equal(lines.length, 1);
    const { time, pid, hostname, ...line } = lines[0]!;
    assert.equal(typeof time, 'string');
    assert.equal(pid, process.pid);
    assert.equal(typeof hostname, 'string');
    assert.deepEqual(line, {
      level: 30,
      msg: 'connection closed',
      listener: 'web',
      id: 42,
      client: '127.0.0.1:50000',
      upstream: '198.18.2.2:8080',
      outcome: 'mptcp',
      reason: 'reset',
      errno: 104,
      durationMs: 1234,
      bytesUp: 100,
      bytesDown: 5000,
      subflows: [
        { local: '198.18.1.1:40000', remote: '198.18.2.2:8080', bytesSent: 60, bytesReceived: 3000, rttUs: 1500, backup: false },
        { local: '198.18.3.1:40001', remote: '198.18.4.2:8080', bytesSent: 40, bytesReceived: 2000, rttUs: 900, backup: true },
      ],
    });
  });

  it('logs opens, establishment and subflow changes at debug only', () => {
    const info = capture('info');
    const debug = capture('debug');
    publishDataplaneEvents([
      openEvent({ id: 5, client: '127.0.0.1:1' }),
      establishedEvent({ id: 5, connectUs: 700 }),
      subflowEvent({ id: 5, action: 'added' }),
    ]);
    assert.equal(info.length, 0);
    assert.deepEqual(
      debug.map((l) => [l.level, l.msg, l.id]),
      [
        [20, 'connection opened', 5],
        [20, 'connection established', 5],
        [20, 'subflow added', 5],
      ],
    );
    assert.equal(debug[0]!.client, '127.0.0.1:1');
    assert.equal(debug[1]!.connectUs, 700);
  });

  it('stops when unsubscribed', () => {
    const lines = capture('debug');
    cleanups.pop()!();
    assert.equal(channels.close.hasSubscribers, false);
    publishDataplaneEvents([openEvent(), closeEvent()]);
    assert.equal(lines.length, 0);
  });

  it('is written in the same dispatch as the close metrics', async () => {
    const metrics = createMetrics({ snapshot: emptySnapshot, pathForAddress });
    cleanups.push(() => metrics.dispose());
    // Read the counter while the log line is being written: prom-client computes a counter's
    // values synchronously when get() is called, so this sees the state at that moment.
    let countedWhenLogged: Promise<number | undefined> | undefined;
    const logger = createLogger('info', {
      write: () => {
        countedWhenLogged = metricValue(metrics.registry, 'braid_connections_total', { listener: 'x', outcome: 'mptcp' });
      },
    });
    cleanups.push(subscribeAccessLog(logger));
    publishDataplaneEvents([closeEvent({ listener: 'x' })]);
    assert.ok(countedWhenLogged, 'the access-log line was written before publish returned');
    assert.equal(await countedWhenLogged, 1);
  });
});
