// `braid redirect status`: the rules of braid's nftables table in this network namespace,
// with the policy each belongs to and its packet and byte counters.
import { RedirectTable } from '../redirect';
import { formatRedirectTable } from './redirect-table';

export interface RedirectStatusOptions {
  output: 'table' | 'json';
}

export async function redirectStatusCommand(options: RedirectStatusOptions, table: RedirectTable = new RedirectTable()): Promise<void> {
  const status = await table.status();
  process.stdout.write(options.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatRedirectTable(status));
}
