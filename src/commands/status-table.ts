// Pure formatting of the /connections document for `braid status`: one row per connection,
// its subflows indented below it, and a summary line.
import type { AnnotatedConnection, ConnectionsDocument } from '../admin/connections';

/** "512 B", "1.5 KiB", "12.0 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** "0s", "42s", "3m05s", "2h03m", "4d01h". */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

/** "-" (unknown), "850us", "1.2ms", "1.25s". */
export function formatRtt(us: number): string {
  if (!(us > 0)) return '-';
  if (us < 1000) return `${us}us`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

function mode(conn: AnnotatedConnection): string {
  if (conn.state === 'connecting') return 'connecting';
  return conn.outcome === 'mptcp' ? 'MPTCP' : conn.outcome;
}

/** Pads cells so columns line up; `right[i]` right-aligns column i (numbers). */
function alignRows(rows: string[][], right: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatStatusTable(doc: ConnectionsDocument): string {
  const connections = [...doc.connections].sort((a, b) => a.id - b.id);

  // Connections captured by a transparent listener say which policy sent them to braid.
  const withPolicy = connections.some((c) => (c.policy ?? '') !== '');
  const connRows = alignRows(
    [
      ['ID', withPolicy ? 'LISTENER/POLICY' : 'LISTENER', 'CLIENT', 'UPSTREAM', 'MODE', 'AGE', 'UP', 'DOWN'],
      ...connections.map((c) => [
        String(c.id),
        withPolicy && c.policy ? `${c.listener}/${c.policy}` : c.listener,
        c.client,
        c.upstream || '-',
        mode(c),
        formatAge(c.ageMs),
        formatBytes(c.bytesUp),
        formatBytes(c.bytesDown),
      ]),
    ],
    [true, false, false, false, false, true, true, true],
  );

  // Subflow rows align with each other across all connections.
  const subflowRows = alignRows(
    connections.flatMap((c) =>
      c.subflows.map((s) => [
        s.path,
        `${s.local} -> ${s.remote}`,
        `sent ${formatBytes(s.bytesSent)}`,
        `recv ${formatBytes(s.bytesReceived)}`,
        `rtt ${formatRtt(s.rttUs)}`,
        [s.backup ? 'backup' : '', s.closed ? 'closed' : ''].filter(Boolean).join(' '),
      ]),
    ),
    [false, false, true, true, true, false],
  );

  const lines: string[] = [];
  if (connections.length === 0) {
    lines.push('no open connections');
  } else {
    lines.push(connRows[0]!);
    let next = 0;
    connections.forEach((c, i) => {
      lines.push(connRows[i + 1]!);
      for (let k = 0; k < c.subflows.length; k += 1) lines.push(`    └ ${subflowRows[next++]!}`);
    });
  }

  const count = (outcome: string): number =>
    connections.filter((c) => c.state !== 'connecting' && c.outcome === outcome).length;
  const connecting = connections.filter((c) => c.state === 'connecting').length;
  const subflows = connections.reduce((n, c) => n + c.subflows.filter((s) => !s.closed).length, 0);
  const parts = [`${count('mptcp')} MPTCP`, `${count('fallback')} fallback`, `${count('tcp')} tcp`];
  if (connecting > 0) parts.push(`${connecting} connecting`);
  lines.push('');
  lines.push(
    `${plural(connections.length, 'connection')}: ${parts.join(', ')}; ${plural(subflows, 'subflow')}` +
      ` (accepted ${doc.accepted}, refused ${doc.refused} since start)`,
  );
  return `${lines.join('\n')}\n`;
}
