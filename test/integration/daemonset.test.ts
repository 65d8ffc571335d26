// braid run exactly as the chart's DaemonSet runs it, on a test-bed node standing in for a
// Kubernetes node: command, args, env, probes, preStop and terminationGracePeriodSeconds come
// from the rendered DaemonSet (image paths mapped to this checkout through the Dockerfile's
// COPY lines); the config is the rendered ConfigMap laid out as the kubelet mounts it (..data
// symlink to a timestamped directory) and updated the way the kubelet does; braid is PID 1 of
// its own PID namespace, as in a container (hostNetwork: the node's network namespace); the
// readiness probe is polled like the kubelet does; termination is preStop, then SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findObject, renderChart, type Json } from '../../src/deploy/chart';
import { toCheckout } from '../../src/deploy/image';
import { Testbed, waitForPort } from '../../src/testbed';

const SERVER_PORT = 7000; // echo server on node 1, the remote end
const LISTEN_PORT = 7100; // braid forward listener on node 0
const ADDED_PORT = 7101; // the listener a ConfigMap update adds

function values(bed: Testbed, extraListener: boolean): Json {
  const upstream = `${bed.address(1, 0)}:${SERVER_PORT}`;
  return {
    config: {
      paths: [{ name: 'nic0', interface: bed.iface(0) }],
      listeners: [
        { name: 'app', mode: 'forward', listen: `127.0.0.1:${LISTEN_PORT}`, upstream },
        ...(extraListener ? [{ name: 'added', mode: 'forward', listen: `127.0.0.1:${ADDED_PORT}`, upstream }] : []),
      ],
      timeouts: { drain: '20s' },
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A ConfigMap volume as the kubelet writes it (pkg/volume/util/atomic_writer.go). */
class ConfigMapVolume {
  private generation = 0;
  constructor(readonly dir: string) {}

  write(data: Record<string, string>): void {
    const version = `..${new Date().toISOString().replace(/[-:]/g, '_')}.${this.generation++}`;
    mkdirSync(path.join(this.dir, version));
    for (const [key, text] of Object.entries(data)) writeFileSync(path.join(this.dir, version, key), text);
    let old: string | undefined;
    try {
      old = readlinkSync(path.join(this.dir, '..data'));
    } catch {
      old = undefined;
    }
    symlinkSync(version, path.join(this.dir, '..data_tmp'));
    renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    for (const key of Object.keys(data)) {
      try {
        symlinkSync(path.join('..data', key), path.join(this.dir, key));
      } catch {
        // the key's link exists from an earlier version
      }
    }
    if (old !== undefined) rmSync(path.join(this.dir, old), { recursive: true, force: true });
  }
}

/** An image path (or a base-image file) in this checkout. */
function local(imagePath: string): string {
  if (imagePath === '/usr/local/bin/node') return process.execPath; // node:20-bookworm-slim's node
  const p = toCheckout(imagePath);
  assert.ok(p, `${imagePath} is not a file the image has (deploy/Dockerfile COPY lines)`);
  return p;
}

/** Replace container paths under a volume mount with the directory standing in for the volume. */
function mapMounts(value: string, mounts: Map<string, string>): string {
  for (const [mountPath, dir] of mounts) {
    if (value === mountPath || value.startsWith(`${mountPath}/`)) return dir + value.slice(mountPath.length);
  }
  return value;
}

describe('braid as the DaemonSet runs it', () => {
  it('becomes ready, reloads a ConfigMap update, and drains cleanly through preStop and SIGTERM', async (t) => {
    const bed = await Testbed.create({ nodes: 2, paths: 1 });
    const work = mkdtempSync(path.join(tmpdir(), 'braid-ds-'));
    let proc: ChildProcess | undefined;
    let braidPid: number | undefined;
    try {
      const rendered = renderChart({ values: [values(bed, false)] });
      const ds = findObject(rendered.objects, 'DaemonSet');
      const pod = ((ds['spec'] as Json)['template'] as Json)['spec'] as Json;
      const container = (pod['containers'] as Json[]).find((c) => c['name'] === 'braid')!;
      assert.equal(pod['hostNetwork'], true, 'the test stands in for hostNetwork: braid in the node namespace');

      // Volumes: the ConfigMap as the kubelet lays it out; the hostPath state dir.
      const mounts = new Map<string, string>();
      for (const m of container['volumeMounts'] as Json[]) {
        const volume = (pod['volumes'] as Json[]).find((v) => v['name'] === m['name'])!;
        const dir = path.join(work, String(m['name']));
        mkdirSync(dir);
        if (volume['configMap'] !== undefined) {
          const cm = findObject(rendered.objects, 'ConfigMap', (volume['configMap'] as Json)['name'] as string);
          new ConfigMapVolume(dir).write(cm['data'] as Record<string, string>);
        }
        mounts.set(String(m['mountPath']), dir);
      }
      const configVolume = new ConfigMapVolume(mounts.get('/etc/braid')!);

      const argv = [local((container['command'] as string[])[0]!), ...(container['args'] as string[]).map((a) => mapMounts(a, mounts))];
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const e of (container['env'] as Json[] | undefined) ?? []) env[String(e['name'])] = mapMounts(String(e['value']), mounts);

      // PID 1 of a PID namespace, as in the container; the node's network namespace.
      proc = bed.spawn(0, ['unshare', '--pid', '--fork', '--mount-proc', ...argv], { env });
      let log = '';
      proc.stdout?.on('data', (b: Buffer) => (log += b.toString()));
      proc.stderr?.on('data', (b: Buffer) => (log += b.toString()));
      const exited = new Promise<number | null>((resolve) => proc!.once('exit', (code) => resolve(code)));
      t.after(() => rmSync(work, { recursive: true, force: true }));

      for (let i = 0; braidPid === undefined && i < 100; i++) {
        const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
        if (children !== '') braidPid = Number(children.split(' ')[0]);
        else await sleep(20);
      }
      assert.ok(braidPid, 'unshare started no child');

      // The kubelet probes the pod IP (the node's address, with hostNetwork) unless the probe names a host.
      const podIp = bed.address(0, 0);
      const probe = async (name: 'readinessProbe' | 'livenessProbe'): Promise<boolean> => {
        const spec = container[name] as Json;
        const get = spec['httpGet'] as Json;
        const url = `${String(get['scheme'] ?? 'HTTP').toLowerCase()}://${String(get['host'] ?? podIp)}:${String(get['port'])}${String(get['path'])}`;
        const r = await bed.exec(0, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', String(spec['timeoutSeconds'] ?? 1), url]);
        const status = Number(r.stdout);
        return status >= 200 && status < 400;
      };
      /** Poll a probe at its period until it reports `want` successThreshold/failureThreshold times in a row. */
      const until = async (name: 'readinessProbe' | 'livenessProbe', want: boolean, limitMs: number): Promise<void> => {
        const spec = container[name] as Json;
        const needed = want ? Number(spec['successThreshold'] ?? 1) : Number(spec['failureThreshold'] ?? 3);
        const periodMs = Number(spec['periodSeconds'] ?? 10) * 1000;
        const deadline = Date.now() + limitMs;
        let streak = 0;
        for (;;) {
          streak = (await probe(name)) === want ? streak + 1 : 0;
          if (streak >= needed) return;
          assert.ok(Date.now() < deadline, `${name} not ${want ? 'passing' : 'failing'} after ${limitMs} ms:\n${log}`);
          assert.equal(proc!.exitCode, null, `braid exited:\n${log}`);
          await sleep(Math.min(periodMs, 500));
        }
      };
      const metric = async (re: RegExp): Promise<number> => {
        const r = await bed.exec(0, ['curl', '-sf', `http://${podIp}:${String((container['ports'] as Json[])[0]!['containerPort'])}/metrics`]);
        return Number(re.exec(r.stdout)?.[1] ?? NaN);
      };

      // An echo server on the remote node.
      const server = bed.spawn(1, ['socat', `TCP-LISTEN:${SERVER_PORT},fork,reuseaddr`, 'EXEC:cat']);
      t.after(() => server.kill('SIGKILL'));
      await waitForPort(bed, 1, SERVER_PORT);

      // 1. Ready, as the readiness probe sees it; alive, as the liveness probe sees it.
      await until('readinessProbe', true, 20_000);
      assert.ok(await probe('livenessProbe'));
      assert.match(log.split('\n').find((l) => l.includes('braid running')) ?? '', /^\{.*"msg":"braid running".*\}$/, 'logs are JSON lines on stdout');

      // 2. A ConfigMap update (the kubelet's ..data swap) adds a listener, without a restart.
      const updated = renderChart({ values: [values(bed, true)] });
      const cm = findObject(updated.objects, 'ConfigMap');
      configVolume.write(cm['data'] as Record<string, string>);
      const deadline = Date.now() + 15_000;
      while ((await metric(/braid_config_reloads_total\{result="ok"\} (\d+)/)) < 1) {
        assert.ok(Date.now() < deadline, `no reload after the ConfigMap update:\n${log}`);
        await sleep(200);
      }
      const viaAdded = await bed.exec(0, ['sh', '-c', `echo hello | socat -t 2 - TCP:127.0.0.1:${ADDED_PORT}`]);
      assert.equal(viaAdded.stdout, 'hello\n', `the added listener relays: ${viaAdded.stderr}`);

      // 3. Termination as the kubelet does it: a connection is open; the preStop hook starts the
      // drain and returns; then the kubelet's own SIGTERM arrives mid-drain and changes nothing;
      // the open connection finishes and braid exits 0 within the grace period.
      const chunks = 20;
      const transfer = bed.exec(0, [process.execPath, '-e', slowEchoClient, String(LISTEN_PORT), String(chunks)], { timeoutMs: 30_000 });
      await sleep(600); // the connection is up and mid-transfer
      const hook = (((container['lifecycle'] as Json)['preStop'] as Json)['exec'] as Json)['command'] as string[];
      const hookArgv = hook.map((a, i) => (i === 0 || a.startsWith('/opt/') || a.startsWith('/usr/') ? local(a) : a));
      const grace = Number(pod['terminationGracePeriodSeconds']);
      const started = Date.now();
      // Inside the container: its PID namespace (braid is PID 1 there) and mount namespace.
      const hookResult = await bed.exec(0, ['nsenter', '-t', String(braidPid), '-p', '-m', '--', ...hookArgv], { timeoutMs: grace * 1000 });
      assert.equal(hookResult.code, 0, `preStop failed: ${hookResult.stdout}${hookResult.stderr}`);
      assert.equal(hookResult.stdout.trim(), 'prestop: draining');

      await until('readinessProbe', false, 10_000); // draining: out of the ready set at once
      const refused = await bed.exec(0, ['socat', '-u', 'OPEN:/dev/null', `TCP:127.0.0.1:${LISTEN_PORT}`]);
      assert.notEqual(refused.code, 0, 'a new connection during the drain is refused');
      assert.equal(proc.exitCode, null, 'braid is still draining the open connection');
      process.kill(braidPid, 'SIGTERM'); // the kubelet's signal to PID 1, mid-drain

      const echoed = await transfer;
      assert.equal(echoed.code, 0, `the open connection was cut: ${echoed.stdout}${echoed.stderr}`);
      assert.equal(echoed.stdout.trim(), `echoed ${chunks * 1024}`);
      const code = await Promise.race([exited, sleep(grace * 1000).then(() => 'SIGKILL due')]);
      assert.equal(code, 0, `braid did not exit cleanly within ${grace}s:\n${log}`);
      assert.ok(Date.now() - started < grace * 1000);
      assert.doesNotMatch(log, /aborting/, 'nothing was aborted');
      const endpoints = await bed.exec(0, ['ip', 'mptcp', 'endpoint', 'show']);
      assert.equal(endpoints.stdout.trim(), '', 'braid removed its MPTCP endpoints');
    } finally {
      if (braidPid !== undefined && proc?.exitCode === null) {
        try {
          process.kill(braidPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await bed.destroy();
    }
  });
});

// Sends `chunks` KiB through braid, one every 150 ms, and prints how much came back.
const slowEchoClient = `
const net = require('node:net');
const [port, chunks] = process.argv.slice(1).map(Number);
let got = 0, sent = 0;
const s = net.connect(port, '127.0.0.1', () => {
  const t = setInterval(() => {
    s.write(Buffer.alloc(1024, 97));
    if (++sent === chunks) { clearInterval(t); s.end(); }
  }, 150);
});
s.on('data', (b) => { got += b.length; });
s.on('end', () => { console.log('echoed ' + got); process.exit(got === chunks * 1024 ? 0 : 1); });
s.on('error', (e) => { console.log('error ' + e.message + ' after ' + got); process.exit(1); });
`;
