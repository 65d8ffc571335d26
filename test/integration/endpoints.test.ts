// EndpointOwner against the real kernel path manager, in a namespace this test creates.
// The owner runs as a separate process (test/fixtures/pm-owner.ts) inside the namespace so it
// can be released by SIGTERM or killed with SIGKILL; `ip -n NS mptcp ...` is the judge.
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const FIXTURE = join(__dirname, '..', 'fixtures', 'pm-owner.js');
const RUN = `bpm${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

interface IpEndpoint {
  address: string;
  id: number;
  dev?: string;
  signal?: boolean;
  subflow?: boolean;
  backup?: boolean;
  fullmesh?: boolean;
}

function ip(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function endpoints(ns: string): IpEndpoint[] {
  const out = ip(ns, '-j', 'mptcp', 'endpoint', 'show').trim();
  const list = (out === '' ? [] : JSON.parse(out)) as IpEndpoint[];
  return list.sort((a, b) => a.id - b.id);
}

function limits(ns: string): { subflows: number; addAddrAccepted: number } {
  const out = ip(ns, 'mptcp', 'limits', 'show');
  const subflows = /subflows (\d+)/.exec(out);
  const accepted = /add_addr_accepted (\d+)/.exec(out);
  assert.ok(subflows && accepted, `unexpected limits output: ${out}`);
  return { subflows: Number(subflows[1]), addAddrAccepted: Number(accepted[1]) };
}

/** "address flags dev" in a stable order, to compare with one deepEqual. */
function summary(list: IpEndpoint[]): string[] {
  return list
    .map((e) => {
      const flags = (['signal', 'subflow', 'backup', 'fullmesh'] as const).filter((f) => e[f] === true);
      return [e.address, ...flags, e.dev ?? '-'].join(' ');
    })
    .sort();
}

interface Owner {
  child: ChildProcess;
  next(): Promise<Record<string, unknown>>; // next JSON line on stdout
  stderr(): string;
}

const PATHS = [
  { name: 'fast', interface: 'bp1', signal: false, subflow: true, backup: false },
  { name: 'slow', interface: 'bp2', signal: true, subflow: false, backup: true },
];

describe('EndpointOwner in a network namespace', () => {
  let ns = '';
  let stateDir = '';
  let seq = 0;
  const children: ChildProcess[] = [];

  function startOwner(options: { paths?: unknown; limits?: unknown } = {}): Owner {
    const spec = {
      paths: options.paths ?? PATHS,
      limits: options.limits ?? { subflows: 4, addAddrAccepted: 3 },
      stateDir,
    };
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, FIXTURE, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    return {
      child,
      stderr: () => err,
      next: async () => {
        const r = await lines.next();
        assert.ok(!r.done, `owner exited without output; stderr:\n${err}`);
        return JSON.parse(r.value) as Record<string, unknown>;
      },
    };
  }

  async function release(owner: Owner): Promise<Record<string, unknown>> {
    const exited = once(owner.child, 'exit');
    owner.child.kill('SIGTERM');
    const msg = await owner.next();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, `owner exit status; stderr:\n${owner.stderr()}`);
    return msg;
  }

  beforeEach(() => {
    ns = `${RUN}-${seq++}`;
    stateDir = mkdtempSync(join(tmpdir(), 'braid-pm-state-'));
    execFileSync('ip', ['netns', 'add', ns]);
    ip(ns, 'link', 'set', 'lo', 'up');
    // No dummy driver on this kernel: each path is one end of a veth pair.
    for (const n of [1, 2]) {
      ip(ns, 'link', 'add', `bp${n}`, 'type', 'veth', 'peer', 'name', `bp${n}peer`);
      ip(ns, 'link', 'set', `bp${n}`, 'up');
      ip(ns, 'link', 'set', `bp${n}peer`, 'up');
      ip(ns, 'addr', 'add', `198.18.${20 + n}.1/24`, 'dev', `bp${n}`);
    }
    ip(ns, '-6', 'addr', 'add', '2001:2::1/64', 'dev', 'bp2', 'nodad');
  });

  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // namespace already gone
    }
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(stateDir, { recursive: true, force: true });
  });

  after(() => {
    // Belt and braces: nothing of this run may outlive it.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n): n is string => n !== undefined && n.startsWith(RUN));
    for (const n of left) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  });

  it('adds one endpoint per address with the path flags, bound to the interface, and sets limits', async () => {
    const before = limits(ns);
    const owner = startOwner();
    const ready = await owner.next();
    assert.equal(ready.event, 'ready', JSON.stringify(ready));

    assert.deepEqual(summary(endpoints(ns)), [
      '198.18.21.1 subflow bp1',
      '198.18.22.1 signal backup bp2',
      '2001:2::1 signal backup bp2', // global IPv6 yes, link-local fe80:: no
    ]);
    assert.deepEqual(limits(ns), { subflows: 4, addAddrAccepted: 3 });
    assert.deepEqual(ready.paths, { '198.18.21.1': 'fast', '198.18.22.1': 'slow', '2001:2::1': 'slow' });
    assert.ok(existsSync(String(ready.stateFile)), 'state file written while running');

    const released = await release(owner);
    assert.deepEqual(released, { event: 'released', ok: true, again: true });
    assert.deepEqual(endpoints(ns), []);
    assert.deepEqual(limits(ns), before);
    assert.equal(existsSync(String(ready.stateFile)), false, 'state file removed on release');
  });

  it('leaves a foreign endpoint on a path address alone, and it survives release', async () => {
    ip(ns, 'mptcp', 'endpoint', 'add', '198.18.22.1', 'id', '50', 'subflow', 'fullmesh', 'dev', 'bp2');
    const owner = startOwner();
    const ready = await owner.next();
    assert.equal(ready.event, 'ready', JSON.stringify(ready));
    assert.deepEqual(ready.foreign, [{ path: 'slow', address: '198.18.22.1', id: 50, flags: ['subflow', 'fullmesh'] }]);
    assert.match(owner.stderr(), /does not own/);
    assert.deepEqual(summary(endpoints(ns)), [
      '198.18.21.1 subflow bp1',
      '198.18.22.1 subflow fullmesh bp2',
      '2001:2::1 signal backup bp2',
    ]);
    // Traffic on that address is still on path "slow".
    assert.equal((ready.paths as Record<string, string>)['198.18.22.1'], 'slow');

    await release(owner);
    assert.deepEqual(endpoints(ns), [{ address: '198.18.22.1', id: 50, subflow: true, fullmesh: true, dev: 'bp2' }]);
  });

  it('removes what a SIGKILLed owner left behind at the next start, and restores its limits', async () => {
    ip(ns, 'mptcp', 'limits', 'set', 'subflows', '1', 'add_addr_accepted', '1');
    const first = startOwner();
    assert.equal((await first.next()).event, 'ready');
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    await exited;
    assert.equal(endpoints(ns).length, 3, 'a killed owner cannot clean up');
    assert.deepEqual(limits(ns), { subflows: 4, addAddrAccepted: 3 });

    // The second owner manages only path "fast": anything on bp2 now is a leftover.
    const second = startOwner({ paths: [PATHS[0]], limits: { subflows: 3, addAddrAccepted: 2 } });
    const ready = await second.next();
    assert.equal(ready.event, 'ready', JSON.stringify(ready));
    assert.match(second.stderr(), /removed stale MPTCP endpoint/);
    assert.deepEqual(summary(endpoints(ns)), ['198.18.21.1 subflow bp1']);
    assert.deepEqual(ready.foreign, []);
    assert.deepEqual(limits(ns), { subflows: 3, addAddrAccepted: 2 });

    await release(second);
    assert.deepEqual(endpoints(ns), []);
    assert.deepEqual(limits(ns), { subflows: 1, addAddrAccepted: 1 }, 'the limits from before the first owner');
  });

  it('refuses to start while another live owner holds the namespace', async () => {
    const first = startOwner();
    assert.equal((await first.next()).event, 'ready');
    const second = startOwner();
    const msg = await second.next();
    assert.equal(msg.event, 'error');
    assert.equal(msg.code, 'BRAID_PATH_STATE');
    assert.equal(endpoints(ns).length, 3, 'the first owner keeps its endpoints');
    await release(first);
    assert.deepEqual(endpoints(ns), []);
  });

  it('fails with BRAID_PATH_INTERFACE naming the path and interface, touching nothing', async () => {
    const before = limits(ns);
    const owner = startOwner({ paths: [PATHS[0], { ...PATHS[1], name: 'gone', interface: 'bp9' }] });
    const msg = await owner.next();
    assert.equal(msg.event, 'error');
    assert.equal(msg.code, 'BRAID_PATH_INTERFACE');
    assert.match(String(msg.message), /path "gone": interface "bp9"/);
    assert.deepEqual(endpoints(ns), []);
    assert.deepEqual(limits(ns), before);
  });

  it('rolls back and reports BRAID_NETLINK with errno when the kernel refuses the limits', async () => {
    const before = limits(ns);
    const owner = startOwner({ limits: { subflows: 99, addAddrAccepted: 0 } });
    const msg = await owner.next();
    assert.equal(msg.event, 'error');
    assert.equal(msg.code, 'BRAID_NETLINK');
    assert.equal(msg.errno, 22); // EINVAL: above the kernel's maximum
    assert.deepEqual(endpoints(ns), []);
    assert.deepEqual(limits(ns), before);
  });
});
