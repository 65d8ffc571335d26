// The addon's side of NUMA-local relaying, on loopback: workerCpus reaches the workers,
// moveConnection moves a live connection, and the snapshot carries what the control loop reads.
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { openDataplane, type ConnectionSnapshot, type NativeDataplane, type NativeDataplaneSpec } from '../../src/dataplane';

function spec(overrides: Partial<NativeDataplaneSpec> = {}): NativeDataplaneSpec {
  return {
    workers: 2,
    maxConnections: 100,
    connectTimeoutMs: 5000,
    idleTimeoutMs: 0,
    pipeSize: 65536,
    subflowPollMs: 1000,
    upstreamMark: 0,
    listeners: [],
    ...overrides,
  };
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function roundTrip(client: net.Socket, server: net.Socket, text: string): Promise<void> {
  const got = new Promise<string>((resolve) => server.once('data', (d) => resolve(d.toString())));
  client.write(text);
  assert.equal(await got, text);
  const back = new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())));
  server.write(text);
  assert.equal(await back, text);
}

describe('data plane NUMA controls', () => {
  const twoCpus = os.availableParallelism() >= 2;
  let dp: NativeDataplane;
  let target: net.Server;
  let client: net.Socket;
  let server: net.Socket;
  let listenPort: number;

  before(async () => {
    const accepted = new Promise<net.Socket>((resolve) => {
      target = net.createServer(resolve);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as net.AddressInfo).port;
    dp = openDataplane(spec({ workerCpus: twoCpus ? [[0], [1]] : [] }), () => {});
    [{ port: listenPort }] = dp.addListeners([
      {
        id: 1,
        name: 'numa',
        mode: 'forward',
        listen: { host: '127.0.0.1', port: 0 },
        listenProtocol: 'tcp',
        target: { host: '127.0.0.1', port: targetPort },
        targetProtocol: 'tcp',
        backlog: 16,
        originalDestination: false,
        tproxy: false,
        fallback: 'allow',
        policy: '',
      },
    ]);
    client = net.connect(listenPort, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    server = await accepted;
  });

  after(() => {
    client?.destroy();
    server?.destroy();
    dp?.close();
    target?.close();
  });

  const only = (): ConnectionSnapshot | undefined => {
    const [c] = dp.snapshot().connections;
    return c?.state === 'relaying' ? c : undefined;
  };

  it('reports each worker thread and its pin', { skip: !twoCpus && 'needs 2 CPUs' }, () => {
    const workers = dp.snapshot().workers ?? [];
    assert.deepEqual(
      workers.map((w) => [w.index, w.cpus, w.pinErrno]).sort(),
      [
        [0, [0], 0],
        [1, [1], 0],
      ],
    );
    for (const w of workers) assert.ok(w.tid > 0);
  });

  it('names the application-side socket and no token for plain TCP', async () => {
    const c = await until('the connection', only);
    assert.equal(c.appLocal, `127.0.0.1:${listenPort}`);
    assert.equal(c.appRemote, `127.0.0.1:${client.localPort}`);
    assert.equal(c.token, undefined);
    assert.equal(c.migrations, 0);
  });

  it('moves the connection to the other worker and keeps relaying', async () => {
    const before = await until('the connection', only);
    const to = 1 - before.worker;
    assert.equal(dp.moveConnection(before.id, to), true);
    const moved = await until('the move', () => {
      const c = only();
      return c?.worker === to ? c : undefined;
    });
    assert.equal(moved.migrations, 1);
    assert.equal(dp.snapshot().migrations, 1);
    await roundTrip(client, server, 'after the move');
    assert.equal(dp.moveConnection(before.id, to), true, 'already there');
    assert.equal(dp.moveConnection(before.id, 2), false, 'no worker 2');
    assert.equal(dp.moveConnection(before.id + 1000, 0), false, 'no such connection');
    assert.throws(() => dp.moveConnection('1' as unknown as number, 0), TypeError);
  });

  it('rejects a workerCpus that is not lists of CPU numbers', () => {
    assert.throws(() => openDataplane(spec({ workerCpus: [[-1]] }), () => {}), /workerCpus\[0\]\[0\]/);
    assert.throws(() => openDataplane(spec({ workerCpus: [0] as unknown as number[][] }), () => {}), /workerCpus/);
  });
});
