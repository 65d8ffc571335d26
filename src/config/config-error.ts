// The error a bad config file raises: every issue found, each placed on a line, so one run
// of `braid validate` shows everything to fix.
import { BraidError } from '../errors';
import type { ConfigIssue } from './issue';

export class ConfigError extends BraidError {
  override name = 'ConfigError';
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  /**
   * code: BRAID_CONFIG_INVALID when the file parsed but breaks the schema or a rule;
   * BRAID_CONFIG_READ when the YAML itself is malformed (the issues then say where).
   */
  constructor(source: string, issues: readonly ConfigIssue[], code: 'BRAID_CONFIG_INVALID' | 'BRAID_CONFIG_READ' = 'BRAID_CONFIG_INVALID') {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    const what = code === 'BRAID_CONFIG_READ' ? 'is not valid YAML' : 'is not a valid braid configuration';
    const count = sorted.length === 1 ? '1 issue' : `${sorted.length} issues`;
    super(code, [`${source} ${what} (${count}):`, ...sorted.map((i) => formatIssue(source, i))].join('\n'));
    this.source = source;
    this.issues = Object.freeze(sorted.map((i) => Object.freeze({ ...i })));
  }
}

/** "FILE:LINE:COLUMN: KEY.PATH: message", the form compilers use, so editors can jump to it. */
export function formatIssue(source: string, issue: ConfigIssue): string {
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${source}:${issue.line}:${issue.column}: ${path}${issue.message}`;
}
