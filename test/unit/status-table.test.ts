import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionsDocument } from '../../src/admin/connections';
import { formatAge, formatBytes, formatRtt, formatStatusTable } from '../../src/commands/status-table';
import { emptySnapshot, pathForAddress, sampleSnapshot } from '../helpers/fixtures';

describe('formatStatusTable', () => {
  it('prints a row per connection, its subflows indented below, and a summary', () => {
    const table = formatStatusTable(connectionsDocument(sampleSnapshot(), pathForAddress));
    assert.equal(
      table,
      [
        'ID  LISTENER  CLIENT           UPSTREAM            MODE          AGE       UP      DOWN',
        ' 3  db        [::1]:40222      [2001:db8::2]:5432  fallback    1h02m    512 B       0 B',
        ' 7  web       127.0.0.1:51234  198.18.2.2:8080     MPTCP       1m05s  1.2 MiB  34.0 KiB',
        '    └ a  198.18.1.1:40000 -> 198.18.2.2:8080    sent 1.0 MiB  recv 20.0 KiB  rtt 1.2ms',
        '    └ b  198.18.3.1:40001 -> 198.18.4.2:8080  sent 204.8 KiB  recv 14.0 KiB  rtt 850us  backup',
        ' 9  web       127.0.0.1:51300  -                   connecting     0s      0 B       0 B',
        '',
        '3 connections: 1 MPTCP, 1 fallback, 0 tcp, 1 connecting; 2 subflows (accepted 10, refused 1 since start)',
        '',
      ].join('\n'),
    );
  });

  it('marks closed subflows and leaves them out of the subflow count', () => {
    const snapshot = sampleSnapshot();
    snapshot.connections[0]!.subflows[1]!.closed = true;
    const table = formatStatusTable(connectionsDocument(snapshot, pathForAddress));
    assert.match(table, /└ b .* backup closed$/m);
    assert.match(table, /; 1 subflow \(/);
  });

  it('says so when nothing is open', () => {
    assert.equal(
      formatStatusTable(connectionsDocument(emptySnapshot({ accepted: 1 }), pathForAddress)),
      'no open connections\n\n0 connections: 0 MPTCP, 0 fallback, 0 tcp; 0 subflows (accepted 1, refused 0 since start)\n',
    );
  });
});

describe('status cell formats', () => {
  it('formats bytes in IEC units', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024 ** 2, 3 * 1024 ** 4].map(formatBytes), [
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '10.0 MiB',
      '3.0 TiB',
    ]);
  });

  it('formats ages from seconds to days', () => {
    assert.deepEqual([999, 42_000, 185_000, 7_380_000, 2 * 86_400_000 + 3_600_000].map(formatAge), [
      '0s',
      '42s',
      '3m05s',
      '2h03m',
      '2d01h',
    ]);
  });

  it('formats round-trip times, "-" when unknown', () => {
    assert.deepEqual([0, 850, 1234, 1_500_000].map(formatRtt), ['-', '850us', '1.2ms', '1.50s']);
  });
});

describe('status table with policies', () => {
  it('names the policy of connections captured by a transparent listener', () => {
    const doc = connectionsDocument(sampleSnapshot(), pathForAddress);
    doc.connections[0]!.policy = 'storage';
    const text = formatStatusTable(doc);
    assert.match(text, /LISTENER\/POLICY/);
    assert.match(text, new RegExp(`${doc.connections[0]!.listener}/storage`));
  });
});
