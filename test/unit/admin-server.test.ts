import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseHostPort, formatHostPort } from '../../src/admin/address';
import { connectionsDocument } from '../../src/admin/connections';
import { startAdminServer, type AdminServer } from '../../src/admin/server';
import { BraidError } from '../../src/errors';
import { publishDataplaneEvents } from '../../src/observability/events';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { closeEvent, pathForAddress, sampleSnapshot } from '../helpers/fixtures';

describe('admin server', () => {
  let server: AdminServer;
  let metrics: Metrics;
  let base: string;
  let ready = false;
  const config = { admin: { listen: '127.0.0.1:0' }, listeners: [{ name: 'web' }] };

  before(async () => {
    metrics = createMetrics({ snapshot: sampleSnapshot, pathForAddress });
    server = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      snapshot: sampleSnapshot,
      ready: () => ready,
      effectiveConfig: () => config,
      pathForAddress,
    });
    base = `http://${formatHostPort(server.address)}`;
  });
  after(async () => {
    await server.close();
    metrics.dispose();
  });

  it('reports the bound address with the port resolved', () => {
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(server.address.port > 0);
  });

  it('serves Prometheus text on /metrics', async () => {
    publishDataplaneEvents([closeEvent({ listener: 'web', outcome: 'fallback' })]);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    assert.match(body, /^braid_connections_total\{listener="web",outcome="fallback"\} 1$/m);
    assert.match(body, /^braid_subflows_active\{path="b"\} 1$/m);
    assert.match(body, /^# TYPE braid_connect_duration_seconds histogram$/m);
  });

  it('answers /healthz with ok', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });

  it('answers /readyz 503 until ready, then 200, and 503 again when it flips back', async () => {
    ready = false;
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    ready = false;
    assert.equal((await fetch(`${base}/readyz?verbose=1`)).status, 503);
  });

  it('lists connections with each subflow named by its path', async () => {
    const res = await fetch(`${base}/connections`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    const doc = (await res.json()) as ReturnType<typeof connectionsDocument>;
    assert.deepEqual(doc, connectionsDocument(sampleSnapshot(), pathForAddress));
    const conn = doc.connections.find((c) => c.id === 7)!;
    assert.deepEqual(
      conn.subflows.map((s) => [s.local, s.path, s.backup]),
      [
        ['198.18.1.1:40000', 'a', false],
        ['198.18.3.1:40001', 'b', true],
      ],
    );
    assert.equal(doc.accepted, 10);
  });

  it('shows the effective config on /config', async () => {
    const res = await fetch(`${base}/config`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), config);
  });

  it('answers 404 with JSON for unknown paths', async () => {
    const res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: string; path: string; routes: string[] };
    assert.equal(body.path, '/nope');
    assert.ok(body.routes.includes('/metrics'));
  });

  it('answers 404 to odd request targets and keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.address.port, '127.0.0.1', () => {
        socket.end('GET http://[bad/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk)).on('end', () => resolve(data)).on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 404 /);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('answers 405 to methods other than GET and HEAD', async () => {
    const res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await res.json()) as { method: string }).method, 'POST');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('answers 500 with the message when the snapshot fails', async () => {
    const failing = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      snapshot: () => {
        throw new Error('data plane closed');
      },
      ready: () => true,
      effectiveConfig: () => ({}),
      pathForAddress,
    });
    try {
      const res = await fetch(`http://${formatHostPort(failing.address)}/connections`);
      assert.equal(res.status, 500);
      assert.equal(((await res.json()) as { error: string }).error, 'data plane closed');
    } finally {
      await failing.close();
    }
  });

  it('fails to bind a taken port with BRAID_ADMIN naming the address', async () => {
    await assert.rejects(
      startAdminServer({
        listen: server.address,
        registry: metrics.registry,
        snapshot: sampleSnapshot,
        ready: () => true,
        effectiveConfig: () => ({}),
        pathForAddress,
      }),
      (err: unknown) => {
        assert.ok(err instanceof BraidError);
        assert.equal(err.code, 'BRAID_ADMIN');
        assert.ok(err.message.includes(`127.0.0.1:${server.address.port}`), err.message);
        assert.ok(err.message.includes('EADDRINUSE'), err.message);
        return true;
      },
    );
  });
});

describe('admin server close', () => {
  // The server's own timeouts would end these sockets only after 5 s (keep-alive) and 60 s
  // (headers), so a close() that did not end them itself would run into the test timeout.
  it('ends idle keep-alive sockets and half-sent requests', { timeout: 15_000 }, async () => {
    const metrics = createMetrics({ snapshot: sampleSnapshot, pathForAddress });
    after(() => metrics.dispose());
    const server = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      registry: metrics.registry,
      snapshot: sampleSnapshot,
      ready: () => true,
      effectiveConfig: () => ({}),
      pathForAddress,
    });
    const sockets: net.Socket[] = [];
    // If close() leaves them open, the test times out; end them here so the process can exit.
    after(() => sockets.forEach((s) => s.destroy()));
    const connect = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(server.address.port, '127.0.0.1', () => resolve(s)).on('error', reject);
        sockets.push(s);
      });
    const idle = await connect();
    const answered = new Promise<void>((resolve) => idle.once('data', () => resolve()));
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await answered;
    const half = await connect();
    half.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const ended = (s: net.Socket) => new Promise<void>((resolve) => s.once('close', () => resolve()));
    const bothEnded = Promise.all([ended(idle), ended(half)]);
    await server.close();
    await bothEnded;
    await server.close(); // idempotent
  });
});

describe('admin address', () => {
  it('parses host:port and [v6]:port and formats them back', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseHostPort('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 });
    assert.equal(formatHostPort({ host: '::1', port: 1 }), '[::1]:1');
    assert.equal(formatHostPort({ host: '10.0.0.1', port: 2 }), '10.0.0.1:2');
  });

  it('rejects anything else with BRAID_ADMIN naming the input', () => {
    for (const bad of ['9464', '::1:9464', '127.0.0.1', '127.0.0.1:70000', '[::1]', 'h:p', '']) {
      assert.throws(
        () => parseHostPort(bad),
        (err: unknown) => err instanceof BraidError && err.code === 'BRAID_ADMIN' && err.message.includes(`'${bad}'`),
        bad,
      );
    }
  });
});
