// The benchmark's parsers and table renderers: what `npm run bench` reads from iperf3,
// redis-benchmark and /proc, and how it prints it. (The benchmark itself asserts nothing.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatTicks } from '../bench/cpu';
import { parseIperfJson } from '../bench/iperf';
import { parseMptcpMib } from '../bench/mib';
import { parseRedisCsv } from '../bench/redis';
import { fmt, ratio, renderMarkdown, renderText, type Table } from '../bench/table';

describe('bench parsers', () => {
  it('reads received bytes, rate and CPU from iperf3 -J', () => {
    const r = parseIperfJson(JSON.stringify({
      end: {
        sum_sent: { bytes: 999, seconds: 6, bits_per_second: 1 },
        sum_received: { bytes: 75_000_000, seconds: 6.0, bits_per_second: 100e6 },
        cpu_utilization_percent: { host_total: 12.5, remote_total: 40 },
      },
    }));
    assert.deepEqual(r, { bytes: 75_000_000, seconds: 6, mbitPerSecond: 100, clientCpuPercent: 12.5, serverCpuPercent: 40 });
  });

  it("reports iperf3's own error text", () => {
    assert.throws(() => parseIperfJson('{"start":{},"error":"unable to connect to server: Connection refused"}'),
      /iperf3: unable to connect to server: Connection refused/);
    assert.throws(() => parseIperfJson('iperf3: error'), /no JSON report/);
    assert.throws(() => parseIperfJson('{"end":{}}'), /no end.sum_received/);
  });

  it('reads rps and percentiles from redis-benchmark --csv by column name', () => {
    const csv = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
      '"SET","98814.23","0.270","0.072","0.255","0.447","0.935","3.175"',
      '"GET","90991.81","0.290","0.080","0.279","0.471","0.975","2.999"',
      '',
    ].join('\n');
    assert.deepEqual(parseRedisCsv(csv), [
      { test: 'SET', rps: 98814.23, p50Ms: 0.255, p99Ms: 0.935 },
      { test: 'GET', rps: 90991.81, p50Ms: 0.279, p99Ms: 0.975 },
    ]);
    assert.throws(() => parseRedisCsv('"test","rps"\n"SET","1"\n'), /no "p50_latency_ms" column/);
    assert.throws(() => parseRedisCsv('Could not connect to Redis'), /printed no CSV/);
  });

  it('takes utime + stime from /proc/PID/stat even when the name holds spaces and parentheses', () => {
    const rest = 'S 1 2 3 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 12345';
    assert.equal(parseStatTicks(`4242 (node) ${rest}`), 325);
    assert.equal(parseStatTicks(`4242 (a b) (c)) ${rest}`), 325);
    assert.throws(() => parseStatTicks('garbage'), /not a \/proc\/PID\/stat line/);
  });

  it('pairs MPTcpExt names with values', () => {
    const text = 'TcpExt: A B\nTcpExt: 1 2\nMPTcpExt: MPCapableSYNRX MPCapableSYNTX\nMPTcpExt: 7 3\n';
    const mib = parseMptcpMib(text);
    assert.equal(mib.get('MPCapableSYNRX'), 7);
    assert.equal(mib.get('MPCapableSYNTX'), 3);
    assert.equal(parseMptcpMib('TcpExt: A\nTcpExt: 1\n').size, 0);
  });
});

describe('bench tables', () => {
  const table: Table = {
    title: 'T',
    columns: [{ header: 'setup', align: 'left' }, { header: 'Mbit/s', align: 'right' }],
    rows: [['direct', '95.7'], ['a|b', '1840.0']],
  };

  it('aligns text columns: names left, numbers right', () => {
    assert.equal(renderText(table), [
      'T',
      'setup   Mbit/s',
      '------  ------',
      'direct    95.7',
      'a|b     1840.0',
    ].join('\n'));
  });

  it('renders Markdown with right-aligned number columns and escaped pipes', () => {
    assert.equal(renderMarkdown(table), [
      '| setup | Mbit/s |',
      '| --- | ---: |',
      '| direct | 95.7 |',
      '| a\\|b | 1840.0 |',
    ].join('\n'));
  });

  it('refuses a row with the wrong number of cells', () => {
    assert.throws(() => renderText({ ...table, rows: [['x']] }), /a row has 1 cells for 2 columns/);
  });

  it('formats ratios and missing values', () => {
    assert.equal(ratio(186, 95), '1.96x');
    assert.equal(ratio(undefined, 95), '—');
    assert.equal(ratio(1, 0), '—');
    assert.equal(fmt(undefined, 2), '—');
    assert.equal(fmt(0.7777, 2), '0.78');
  });
});
