// One problem found in a config file, before and after it is placed on a line.
import type { Anchor } from './locate';
import type { KeyPath } from './path';

/** A problem at a key path; `anchor` says which node of the file to point at. */
export interface RawIssue {
  path: KeyPath;
  anchor: Anchor;
  message: string;
}

/** A problem placed in the file, as ConfigError reports it. */
export interface ConfigIssue {
  path: string; // e.g. "listeners[0].listen"; "" for the document itself
  line: number; // 1-based
  column: number; // 1-based
  message: string;
}
