// The admin HTTP endpoint: /metrics, /healthz, /readyz, /connections, /paths, /config.
// Read-only and unauthenticated: bind it to loopback or a pod IP, not a public address.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DataplaneSnapshot } from '../dataplane/types';
import { BraidError } from '../errors';
import type { PathForAddress } from '../observability/paths';
import { formatHostPort, type HostPort } from './address';
import { connectionsDocument } from './connections';

export interface AdminServerOptions {
  listen: HostPort;
  registry: Registry;
  snapshot: () => DataplaneSnapshot;
  /** true once every listener is bound (and false again while draining). */
  ready: () => boolean;
  effectiveConfig: () => unknown;
  pathForAddress: PathForAddress;
  /** The /paths document: path manager, NUMA nodes of the paths, per-connection preferences. */
  paths?: () => unknown;
}

export interface AdminServer {
  /** The bound address (port 0 resolved). */
  address: HostPort;
  /** Stop listening and end open (keep-alive) sockets. Idempotent. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

const json = (status: number, value: unknown): Reply => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: `${JSON.stringify(value, null, 2)}\n`,
});
const text = (status: number, body: string): Reply => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body,
});

type Route = (options: AdminServerOptions) => Reply | Promise<Reply>;

const routes: Record<string, Route> = {
  '/metrics': async ({ registry }) => ({
    status: 200,
    contentType: registry.contentType,
    body: await registry.metrics(),
  }),
  '/healthz': () => text(200, 'ok\n'),
  '/readyz': ({ ready }) => (ready() ? text(200, 'ready\n') : text(503, 'not ready\n')),
  '/connections': ({ snapshot, pathForAddress }) => json(200, connectionsDocument(snapshot(), pathForAddress)),
  '/paths': ({ paths }) => json(200, paths?.() ?? {}),
  '/config': ({ effectiveConfig }) => json(200, effectiveConfig()),
};

async function route(options: AdminServerOptions, req: http.IncomingMessage): Promise<Reply & { allow?: string }> {
  // Only the path matters; a query string (e.g. from a scraper) is ignored. No URL parsing:
  // it can throw on odd request targets, and nothing here needs more than the path.
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const handler = routes[path];
  if (handler === undefined) {
    return json(404, { error: 'not found', path, routes: Object.keys(routes) });
  }
  // HEAD is served like GET (node drops the body), as HTTP expects of any GET resource.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { ...json(405, { error: 'method not allowed', method: req.method, allow: 'GET, HEAD' }), allow: 'GET, HEAD' };
  }
  try {
    return await handler(options);
  } catch (err) {
    return json(500, { error: err instanceof Error ? err.message : String(err), path });
  }
}

/** Bind the admin endpoint; rejects with BraidError('BRAID_ADMIN') naming the address. */
export function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    void route(options, req).then((reply) => {
      const headers: http.OutgoingHttpHeaders = {
        'content-type': reply.contentType,
        'content-length': Buffer.byteLength(reply.body),
        'cache-control': 'no-store',
      };
      if (reply.allow !== undefined) headers.allow = reply.allow;
      res.writeHead(reply.status, headers).end(reply.body);
    }).catch((err: unknown) => {
      // Only reachable if writing the reply itself failed (client gone): drop the socket.
      res.destroy(err instanceof Error ? err : undefined);
    });
  });
  const requested = formatHostPort(options.listen);

  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new BraidError('BRAID_ADMIN', `admin endpoint could not listen on ${requested}: ${err.code ?? err.message}`, {
          cause: err,
          ...(typeof err.errno === 'number' ? { errno: Math.abs(err.errno) } : {}),
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: options.listen.host, port: options.listen.port }, () => {
      server.off('error', onError);
      const bound = server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      resolve({
        address: { host: bound.address, port: bound.port },
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            // close() alone waits for keep-alive sockets (a scraper's) to time out.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
