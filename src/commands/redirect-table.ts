// Pure formatting of the redirect table for `braid redirect status`: one row per nft rule,
// in table order, and a summary line per policy.
import type { RedirectStatus } from '../redirect';
import { formatBytes } from './status-table';

export function formatRedirectTable(status: RedirectStatus): string {
  if (!status.installed) return `no braid table installed (table ${status.table})\n`;
  const rows = [
    ['POLICY', 'HOOK', 'FAMILY', 'PACKETS', 'BYTES', 'RULE'],
    ...status.rules.map((r) => [r.policy || '-', r.hook || r.chain, r.family, String(r.packets), formatBytes(r.bytes), r.rule]),
  ];
  const right = [false, false, false, true, true, false];
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  const policies = new Set(status.rules.map((r) => r.policy).filter((p) => p !== '' && !p.startsWith('@')));
  lines.push('', `table ${status.table}: ${status.rules.length} rule${status.rules.length === 1 ? '' : 's'}, ${policies.size} polic${policies.size === 1 ? 'y' : 'ies'}`);
  return `${lines.join('\n')}\n`;
}
