// A benchmark table and its two renderings: aligned text for the terminal, Markdown for the docs.
// Kept apart from the measuring so both renderings come from the very same cells.

export interface Column {
  header: string;
  /** Numbers read best right-aligned; names left-aligned. */
  align: 'left' | 'right';
}

export interface Table {
  title: string;
  columns: Column[];
  rows: string[][];
}

function pad(cell: string, width: number, align: Column['align']): string {
  return align === 'right' ? cell.padStart(width) : cell.padEnd(width);
}

function checkShape(table: Table): void {
  for (const row of table.rows) {
    if (row.length !== table.columns.length) {
      throw new Error(`table "${table.title}": a row has ${row.length} cells for ${table.columns.length} columns: ${JSON.stringify(row)}`);
    }
  }
}

/** The title, then header and rows in columns separated by two spaces, with a rule under the header. */
export function renderText(table: Table): string {
  checkShape(table);
  const widths = table.columns.map((c, i) => Math.max(c.header.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => pad(cell, widths[i] ?? 0, table.columns[i]?.align ?? 'left')).join('  ').trimEnd();
  return [
    table.title,
    line(table.columns.map((c) => c.header)),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...table.rows.map(line),
  ].join('\n');
}

// A `|` inside a cell would end it early.
function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

/** A GitHub-flavoured Markdown table (no title: the document gives it a heading). */
export function renderMarkdown(table: Table): string {
  checkShape(table);
  const row = (cells: string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [
    row(table.columns.map((c) => c.header)),
    `|${table.columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`,
    ...table.rows.map(row),
  ].join('\n');
}

/** Fixed decimals, or an em dash for a value that does not apply. */
export function fmt(value: number | undefined, decimals: number): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(decimals);
}

/** `value / base` as e.g. `0.97x`; a dash when either is missing. */
export function ratio(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined || base === 0) return '—';
  return `${(value / base).toFixed(2)}x`;
}
