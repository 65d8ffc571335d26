// EndpointOwner with a fake path manager: the order of state writes vs kernel changes,
// rollback on failure, retryable release, and address lookup. No netlink, no namespace.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EndpointOwner, type PathSpec } from '../../src/paths/endpoints';
import { canonicalAddress } from '../../src/paths/address';
import { stateFilePath, type OwnerState } from '../../src/paths/state';
import { BraidError } from '../../src/errors';
import type { EndpointFlag, NativePathManager, PmEndpoint, PmLimits } from '../../src/dataplane/types';

const NETNS = 4026530000;

function netlinkFailure(errno: number, syscall: string): Error {
  return Object.assign(new Error(`${syscall} failed`), { code: 'BRAID_NETLINK', errno, syscall });
}

class FakePm implements NativePathManager {
  eps: PmEndpoint[] = [];
  limits: PmLimits = { subflows: 2, addAddrAccepted: 0 };
  onAdd: (ep: PmEndpoint) => void = () => undefined;
  failDelete = false;
  closed = false;
  listEndpoints(): PmEndpoint[] {
    return this.eps.map((e) => ({ ...e, flags: [...e.flags] }));
  }
  addEndpoint(ep: PmEndpoint): void {
    this.onAdd(ep);
    this.eps.push({ ...ep, flags: [...ep.flags] });
  }
  deleteEndpoint(id: number): void {
    if (this.failDelete) throw netlinkFailure(16, 'MPTCP_PM_CMD_DEL_ADDR');
    this.eps = this.eps.filter((e) => e.id !== id);
  }
  setEndpointFlags(_id: number, _flags: EndpointFlag[]): void {}
  getLimits(): PmLimits {
    return { ...this.limits };
  }
  setLimits(limits: PmLimits): void {
    if (limits.subflows > 8) throw netlinkFailure(22, 'MPTCP_PM_CMD_SET_LIMITS');
    this.limits = { ...limits };
  }
  close(): void {
    this.closed = true;
  }
}

const PATHS: PathSpec[] = [
  { name: 'a', interface: 'eth0', signal: false, subflow: true, backup: false },
  { name: 'b', interface: 'eth1', signal: true, subflow: false, backup: true },
];
const IFACES: Record<string, { ifindex: number; addresses: string[] }> = {
  eth0: { ifindex: 2, addresses: ['198.18.1.1'] },
  eth1: { ifindex: 3, addresses: ['198.18.2.1', '2001:2::1'] },
};

describe('EndpointOwner (fake path manager)', () => {
  let dir = '';
  let pm: FakePm;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'braid-pm-unit-'));
    pm = new FakePm();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const owner = (paths = PATHS, limits: PmLimits = { subflows: 4, addAddrAccepted: 3 }) =>
    new EndpointOwner({
      paths,
      limits,
      stateDir: dir,
      netns: NETNS,
      pathManager: pm,
      resolveInterface: (name) => {
        const i = IFACES[name];
        return i === undefined ? undefined : { name, operstate: 'up', ...i };
      },
    });
  const readState = (): OwnerState => JSON.parse(readFileSync(stateFilePath(dir, NETNS), 'utf8')) as OwnerState;

  it('records each endpoint and the previous limits before changing the kernel', () => {
    const o = owner();
    pm.onAdd = (ep) => {
      const recorded = readState().endpoints.map((e) => `${e.id} ${e.address}`);
      assert.ok(recorded.includes(`${ep.id} ${ep.address}`), `intent for ${ep.address} not on disk before the add`);
      assert.deepEqual(readState().limits?.previous, { subflows: 2, addAddrAccepted: 0 });
    };
    o.start();
    assert.deepEqual(
      pm.eps.map((e) => [e.id, e.address, e.flags.join(','), e.ifindex]),
      [
        [1, '198.18.1.1', 'subflow', 2],
        [2, '198.18.2.1', 'signal,backup', 3],
        [3, '2001:2::1', 'signal,backup', 3],
      ],
    );
    assert.equal(o.addressToPath('2001:0002:0::1'), 'b');
    assert.equal(o.addressToPath('::ffff:198.18.1.1'), 'a');
    assert.equal(o.addressToPath('198.18.9.9'), undefined);
    assert.equal(o.endpoints().length, 3);
    assert.equal(o.release(), true);
    assert.equal(pm.eps.length, 0);
    assert.deepEqual(pm.limits, { subflows: 2, addAddrAccepted: 0 });
    assert.equal(existsSync(stateFilePath(dir, NETNS)), false);
  });

  it('chooses ids the kernel does not use', () => {
    pm.eps = [
      { id: 1, address: '198.18.7.7', port: 0, flags: ['subflow'], ifindex: 0 },
      { id: 2, address: '198.18.7.8', port: 0, flags: ['subflow'], ifindex: 0 },
    ];
    const o = owner([PATHS[0]!]);
    o.start();
    assert.deepEqual(o.endpoints().map((e) => e.id), [3]);
    o.release();
    assert.deepEqual(pm.eps.map((e) => e.id), [1, 2]);
  });

  it('undoes a half-done start and throws BRAID_NETLINK with the errno', () => {
    let adds = 0;
    pm.onAdd = () => {
      if (++adds === 2) throw netlinkFailure(17, 'MPTCP_PM_CMD_ADD_ADDR');
    };
    const o = owner();
    assert.throws(
      () => o.start(),
      (err: unknown) =>
        err instanceof BraidError && err.code === 'BRAID_NETLINK' && err.errno === 17 && /path "b"/.test(err.message),
    );
    assert.deepEqual(pm.eps, []);
    assert.deepEqual(pm.limits, { subflows: 2, addAddrAccepted: 0 });
    assert.equal(existsSync(stateFilePath(dir, NETNS)), false);
  });

  it('keeps the state file when release fails, and a later release finishes the job', () => {
    const o = owner();
    o.start();
    pm.failDelete = true;
    assert.equal(o.release(), false);
    assert.equal(readState().endpoints.length, 3);
    pm.failDelete = false;
    assert.equal(o.release(), true);
    assert.equal(o.release(), true);
    assert.deepEqual(pm.eps, []);
    assert.equal(existsSync(stateFilePath(dir, NETNS)), false);
  });

  it('recovers only endpoints that still match id and address', () => {
    const file = stateFilePath(dir, NETNS);
    mkdirSync(dirname(file), { recursive: true });
    const stale: OwnerState = {
      version: 1,
      pid: 999999999, // no such process
      startTime: '1',
      netns: NETNS,
      limits: { previous: { subflows: 1, addAddrAccepted: 1 }, desired: { subflows: 4, addAddrAccepted: 3 } },
      endpoints: [
        { id: 7, address: '198.18.5.5', path: 'x', interface: 'eth5', ifindex: 5, flags: ['subflow'] },
        { id: 8, address: '198.18.6.6', path: 'x', interface: 'eth6', ifindex: 6, flags: ['subflow'] },
      ],
    };
    writeFileSync(file, JSON.stringify(stale));
    pm.eps = [
      { id: 7, address: '198.18.5.5', port: 0, flags: ['subflow', 'backup'], ifindex: 5 }, // ours, flags changed since
      { id: 8, address: '198.18.6.7', port: 0, flags: ['subflow'], ifindex: 6 }, // id reused by someone else
    ];
    const o = owner([PATHS[0]!]);
    o.start();
    assert.deepEqual(pm.eps.map((e) => `${e.id} ${e.address}`), ['8 198.18.6.7', '1 198.18.1.1']);
    assert.equal(readState().pid, process.pid);
    o.release();
    assert.deepEqual(pm.limits, { subflows: 1, addAddrAccepted: 1 });
  });

  it('refuses a state file it cannot parse instead of forgetting its endpoints', () => {
    const file = stateFilePath(dir, NETNS);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{ not json');
    assert.throws(() => owner().start(), (err: unknown) => err instanceof BraidError && err.code === 'BRAID_PATH_STATE');
    assert.deepEqual(pm.eps, []);
  });

  it('names path and interface when an interface has no address', () => {
    const o = new EndpointOwner({
      paths: [PATHS[0]!],
      limits: { subflows: 2, addAddrAccepted: 0 },
      stateDir: dir,
      netns: NETNS,
      pathManager: pm,
      resolveInterface: (name) => ({ name, ifindex: 4, addresses: [], operstate: 'down' }),
    });
    assert.throws(
      () => o.start(),
      (err: unknown) =>
        err instanceof BraidError && err.code === 'BRAID_PATH_INTERFACE' && /path "a": interface "eth0" \(state down\)/.test(err.message),
    );
  });
});

describe('canonicalAddress', () => {
  for (const [input, want] of [
    ['2001:0002:0000:0000:0000:0000:0000:0001', '2001:2::1'],
    ['[2001:2::1]', '2001:2::1'],
    ['FE80::1%eth0', 'fe80::1'],
    ['::ffff:198.18.0.1', '198.18.0.1'],
    ['198.18.0.1', '198.18.0.1'],
    ['eth0', undefined],
  ] as const) {
    it(`${input} -> ${String(want)}`, () => assert.equal(canonicalAddress(input), want));
  }
});
