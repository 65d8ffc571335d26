// `braid status` as a user runs it: the built CLI against a real admin server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatHostPort } from '../../src/admin/address';
import { connectionsDocument } from '../../src/admin/connections';
import { startAdminServer, type AdminServer } from '../../src/admin/server';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { pathForAddress, sampleSnapshot } from '../helpers/fixtures';

const cli = path.resolve(__dirname, '../../src/cli.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI asynchronously: the admin server lives in this process's event loop. */
function braid(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('braid status', () => {
  let server: AdminServer;
  let metrics: Metrics;
  let admin: string;

  before(async () => {
    metrics = createMetrics({ snapshot: sampleSnapshot, pathForAddress });
    server = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      snapshot: sampleSnapshot,
      ready: () => true,
      effectiveConfig: () => ({}),
      pathForAddress,
    });
    admin = formatHostPort(server.address);
  });
  after(async () => {
    await server.close();
    metrics.dispose();
  });

  it('prints the connection table', async () => {
    const result = await braid('status', '--admin', admin);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    const lines = result.stdout.split('\n');
    assert.match(lines[0]!, /^ID\s+LISTENER\s+CLIENT\s+UPSTREAM\s+MODE\s+AGE\s+UP\s+DOWN$/);
    assert.match(result.stdout, /^ 7 {2}web .* MPTCP .*1\.2 MiB {2}34\.0 KiB$/m);
    assert.match(result.stdout, /^ {4}└ b {2}198\.18\.3\.1:40001 -> 198\.18\.4\.2:8080 .* backup$/m);
    assert.match(result.stdout, /^3 connections: 1 MPTCP, 1 fallback, 0 tcp, 1 connecting; 2 subflows/m);
  });

  it('prints the /connections document with --output json', async () => {
    const result = await braid('status', '--admin', admin, '--output', 'json');
    assert.equal(result.code, 0);
    assert.deepEqual(JSON.parse(result.stdout), connectionsDocument(sampleSnapshot(), pathForAddress));
  });

  it('fails with BRAID_ADMIN, the address and a hint when nothing listens there', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const result = await braid('status', '--admin', address);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`at ${address.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`));
    assert.match(result.stderr, /is braid running\? see admin\.listen in the config \[BRAID_ADMIN\]\n$/);
  });

  it('fails with BRAID_ADMIN and the HTTP status when the endpoint answers with an error', async () => {
    const other = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      snapshot: () => {
        throw new Error('boom');
      },
      ready: () => true,
      effectiveConfig: () => ({}),
      pathForAddress,
    });
    try {
      const result = await braid('status', '--admin', formatHostPort(other.address));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /answered GET \/connections with HTTP 500: \{ "error": "boom", .*\[BRAID_ADMIN\]\n$/);
    } finally {
      await other.close();
    }
  });

  it('rejects an admin address that is not host:port', async () => {
    const result = await braid('status', '--admin', '9464');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /admin address '9464' is not host:port .*\[BRAID_ADMIN\]/);
  });
});
