// Keys that braid used to accept. A retired key is still an error (the schema has no room
// for it), but the message names what replaced it instead of just "unknown key".
import { formatPath, type KeyPath } from './path';

export interface RetiredKey {
  /** Full key path with "[]" for any list index, e.g. "listeners[].connectTimeout". */
  path: string;
  /** What to write instead, e.g. "timeouts.connect". */
  replacement: string;
  /** The braid version that stopped accepting it. */
  since: string;
}

// None yet. Add an entry when a key is renamed or removed, e.g.
// { path: 'listeners[].connectTimeout', replacement: 'timeouts.connect', since: '0.2.0' }
export const RETIRED_KEYS: readonly RetiredKey[] = [];

export function retiredKeyMessage(path: KeyPath, table: readonly RetiredKey[] = RETIRED_KEYS): string | undefined {
  const generic = formatPath(path.map((seg) => (typeof seg === 'number' ? -1 : seg))).replace(/\[-1\]/g, '[]');
  const entry = table.find((r) => r.path === generic);
  if (entry === undefined) return undefined;
  const key = String(path[path.length - 1]);
  return `"${key}" was retired in braid ${entry.since}; use "${entry.replacement}" instead`;
}
