// `braid status`: ask a running braid's admin endpoint for its open connections.
import http from 'node:http';
import { formatHostPort, parseHostPort, type HostPort } from '../admin/address';
import type { ConnectionsDocument } from '../admin/connections';
import { BraidError } from '../errors';
import { formatStatusTable } from './status-table';

export interface StatusOptions {
  admin: string; // host:port or [v6]:port
  output: 'table' | 'json';
}

const TIMEOUT_MS = 5000;
const HINT = 'is braid running? see admin.listen in the config';

export async function statusCommand(options: StatusOptions): Promise<void> {
  const target = parseHostPort(options.admin);
  const address = formatHostPort(target);

  let response: { status: number; body: string };
  try {
    response = await get(target, '/connections');
  } catch (err) {
    throw new BraidError('BRAID_ADMIN', `cannot reach the admin endpoint at ${address} (${reason(err)}); ${HINT}`, {
      cause: err,
    });
  }
  if (response.status !== 200) {
    const body = response.body.replace(/\s+/g, ' ').trim().slice(0, 200);
    throw new BraidError(
      'BRAID_ADMIN',
      `admin endpoint at ${address} answered GET /connections with HTTP ${response.status}: ${body}`,
    );
  }
  let doc: ConnectionsDocument;
  try {
    doc = JSON.parse(response.body) as ConnectionsDocument;
  } catch (err) {
    throw new BraidError('BRAID_ADMIN', `admin endpoint at ${address} sent invalid JSON from /connections`, {
      cause: err,
    });
  }
  if (doc === null || typeof doc !== 'object' || !Array.isArray(doc.connections)) {
    throw new BraidError('BRAID_ADMIN', `admin endpoint at ${address} sent no connections list; is it braid?`);
  }

  process.stdout.write(options.output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : formatStatusTable(doc));
}

class TimeoutError extends Error {}

/** One GET with node:http (fetch refuses some ports, e.g. 6000, that an admin endpoint may use). */
function get(target: HostPort, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: target.host, port: target.port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new TimeoutError(`no answer within ${TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
  });
}

/** The most specific cause: an errno code (ECONNREFUSED), a timeout, or the message. */
function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}
