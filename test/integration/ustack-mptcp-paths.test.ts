// braid-ustack's MPTCP over two paths against Linux's kernel MPTCP: two veth pairs between a Linux
// namespace (ul0 198.18.0.1/24, ul1 198.18.1.1/24) and braid-ustack's (us0 198.18.0.2/24, us1
// 198.18.1.2/24), braid-ustack on both with net_af_packet (one interface per path, each with the
// Linux end as gateway so a subflow between addresses of different subnets still leaves by its own
// interface). Cases, each moving PATH_SIZE bytes with a sha256 match, run one after the other (two
// shared cores):
//   Linux client (in-kernel PM, `subflow` endpoint on its second address) -> ustack sink server
//   ustack source client -> Linux server, Linux `signal` endpoint: the ustack joins the announced address
//   ustack source client -> Linux server, no endpoint: the ustack joins from its second interface itself
//   ustack sink server announcing 198.18.1.2 (ADD_ADDR) -> Linux client accepting it (add_addr_accepted 1)
//   the same with DSS checksums on (net.mptcp.checksum_enabled=1 in Linux's namespace)
//   a Linux client (mptcp-peer) sending 64 MiB to a ustack echo announcing its second address: the
//     echo comes back intact, Linux sends over both paths, MPTCP_FULL_INFO lists both subflows
//   Linux with the userspace PM (net.mptcp.pm_type=1): it accepts our joins only while a PM listens
//     on its netlink events (mptcp_userspace_pm_active(): `ip mptcp monitor` counts), so one run with
//     the monitor (joined) and one without (refused, one subflow, intact)
//   Linux with MPTCP off (net.mptcp.enabled=0): fallback to TCP, intact
//   path 1 taken down mid-transfer (ip link set down on ul1): completes intact over path 0
//   backup both ways: a Linux `backup` endpoint -> the ustack sends (nearly) nothing on it; ustack
//     --backup-path 1 -> Linux sends (nearly) nothing on it (bytes per path from ul0/ul1 counters)
// Every run: Linux's MPTcpExt counters show no HMAC failure, checksum error, dropped ADD_ADDR or
// fallback where MPTCP was expected (BAD_MPTCP_COUNTERS); tshark with MPTCP analysis finds no error
// in braid-ustack's captures of both interfaces (merged). Subflows are seen from Linux (ss -Mtin,
// `ip mptcp monitor` SUB_ESTABLISHED) and from braid-ustack's "paths".
// Needs the cmake build (build/ctest/native/ustack/braid-ustack).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import { extraNsName } from '../../src/testbed';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';
import {
  BINARY, checkMptcpCapture, makeInput, MPTCP_PEER, mptcpDelta, mptcpExt, must, sh, UstackProcess,
  type AppLine, type PeerResult, vethPath,
} from './ustack-harness';

// 32 MiB per case keeps the file near 3 minutes on two shared cores (captures and tshark included).
const PATH_SIZE = 32 * 1024 * 1024;
// A case that stalls fails alone (its braid-ustack is stopped, the next case starts clean).
const CASE_TIMEOUT = 90_000;
const LINUX = ['198.18.0.1', '198.18.1.1'];
const STACK = ['198.18.0.2', '198.18.1.2'];
const PORTS = [7701, 7702, 7703, 7704, 7705, 7706, 7707, 7708, 7709, 7710, 7711, 7712, 7713];
const ECHO_SIZE = 64 * 1024 * 1024;

interface Site {
  linuxNs: string;
  stackNs: string;
  dir: string;
  input: string;
  inputSha: string;
}
let site: Site | undefined;
const S = (): Site => {
  assert.ok(site !== undefined, 'the namespaces were not made');
  return site;
};

// braid-ustack processes of the running case: a failed case must not leave one answering (RST) on
// the shared veths for the next.
const running: UstackProcess[] = [];

const inLinux = (argv: string[]): string[] => ['ip', 'netns', 'exec', S().linuxNs, ...argv];

async function ustack(name: string, args: string[]): Promise<{ proc: UstackProcess; pcaps: string[] }> {
  const pcaps = [0, 1].map((i) => path.join(S().dir, `${name}-if${i}.pcap`));
  const proc = new UstackProcess(S().stackNs, ['--mptcp',
    '--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK[0]}/24`, '--gw', LINUX[0]!, '--pcap', pcaps[0]!,
    '--vdev', 'net_af_packet1,iface=us1', '--ip', `${STACK[1]}/24`, '--gw', LINUX[1]!, '--pcap', pcaps[1]!,
    ...args]);
  running.push(proc);
  await proc.ready();
  return { proc, pcaps };
}

/** Both interfaces' captures merged (tshark analyses a connection across its subflows), checked. */
async function checkCaptures(t: TestContext, pcaps: string[], minDss: number): Promise<void> {
  const merged = pcaps[0]!.replace(/-if0\.pcap$/, '.pcap');
  await must(['mergecap', '-w', merged, ...pcaps]);
  const dss = await checkMptcpCapture(merged, { ports: PORTS, linuxAddrs: LINUX, stackAddrs: STACK, minFrames: 100 });
  assert.ok(dss >= minDss, `only ${dss} of our frames carry a DSS mapping in ${merged}`);
  t.diagnostic(`${path.basename(merged)}: ${dss} of our frames with DSS mappings, tshark clean`);
  for (const f of [...pcaps, merged]) rmSync(f, { force: true });
}

/** Bytes through Linux's veth ends (rx = what braid-ustack sent on that path). */
async function pathBytes(): Promise<{ rx: number[]; tx: number[] }> {
  const read = async (dev: string, what: string): Promise<number> =>
    Number((await must(inLinux(['cat', `/sys/class/net/${dev}/statistics/${what}`]))).trim());
  return { rx: [await read('ul0', 'rx_bytes'), await read('ul1', 'rx_bytes')], tx: [await read('ul0', 'tx_bytes'), await read('ul1', 'tx_bytes')] };
}

/** `ip mptcp monitor` in Linux's namespace until stopped: its event lines. */
class Monitor {
  private readonly child: ChildProcess;
  private out = '';
  private readonly exited: Promise<void>;
  constructor() {
    this.child = spawn('ip', ['netns', 'exec', S().linuxNs, 'ip', 'mptcp', 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }
  async stop(): Promise<string[]> {
    await new Promise((r) => setTimeout(r, 200));  // events of the last close
    this.child.kill('SIGTERM');
    await this.exited;
    return this.out.split('\n').filter((l) => l.trim() !== '');
  }
}

/** Established MPTCP subflows Linux has on `port` now, as "local->peer" pairs (ss -Htin). */
async function linuxSubflows(port: number): Promise<string[]> {
  const r = await sh(inLinux(['ss', '-Htin', 'state', 'established', `( sport = :${port} or dport = :${port} )`]));
  const pairs: string[] = [];
  const lines = r.stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i]!.match(/^\S*\s*\d+\s+\d+\s+(\S+)\s+(\S+)/);
    if (m && (lines[i + 1] ?? '').includes('tcp-ulp-mptcp')) pairs.push(`${m[1]!.replace(/%\S+?:/, ':')}->${m[2]}`);
  }
  return pairs;
}

/** Polls linuxSubflows while `work` runs; every pair seen. */
async function watchSubflows<T>(port: number, work: Promise<T>): Promise<{ value: T; pairs: Set<string> }> {
  const pairs = new Set<string>();
  let done = false;
  const watching = (async () => {
    while (!done) {
      for (const p of await linuxSubflows(port)) pairs.add(p);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  try {
    return { value: await work, pairs };
  } finally {
    done = true;
    await watching;
  }
}

const hostsOf = (pairs: Set<string>): string[] => [...pairs].map((p) => p.replace(/:\d+->/, '->').replace(/:\d+$/, '')).sort();

/** Linux's PM for one case: limits, endpoints, sysctls; undone by the returned function. */
async function linuxPm(o: { subflows?: number; addAddrAccepted?: number; endpoints?: string[][]; sysctls?: Record<string, string> }): Promise<() => Promise<void>> {
  const saved: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.sysctls ?? {})) {
    saved[k] = (await must(inLinux(['sysctl', '-n', k]))).trim();
    await must(inLinux(['sysctl', '-qw', `${k}=${v}`]));
  }
  await must(inLinux(['ip', 'mptcp', 'limits', 'set', 'subflows', String(o.subflows ?? 0), 'add_addr_accepted', String(o.addAddrAccepted ?? 0)]));
  for (const e of o.endpoints ?? []) await must(inLinux(['ip', 'mptcp', 'endpoint', 'add', ...e]));
  return async () => {
    await sh(inLinux(['ip', 'mptcp', 'endpoint', 'flush']));
    await sh(inLinux(['ip', 'mptcp', 'limits', 'set', 'subflows', '0', 'add_addr_accepted', '0']));
    for (const [k, v] of Object.entries(saved)) await sh(inLinux(['sysctl', '-qw', `${k}=${v}`]));
  };
}

/** A Linux server on `port` (mptcp-peer: it keeps listening for joins, which Linux refuses on a port
 *  nobody listens on, and reports the subflows MPTCP_FULL_INFO showed); resolves with its result. */
async function linuxServer(port: number, mptcp: boolean): Promise<{ done: Promise<PeerResult> }> {
  const argv = inLinux([MPTCP_PEER, '--listen', String(port), '--bind', '0.0.0.0', ...(mptcp ? [] : ['--tcp'])]);
  const server = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<PeerResult>((resolve, reject) => server.on('exit', (code) => {
    const line = out.split('\n').find((l) => l.includes('"event":"result"'));
    if (code !== 0 || line === undefined) reject(new Error(`mptcp-peer on ${port} exited ${code}: ${err.trim()}`));
    else resolve(JSON.parse(line) as PeerResult);
  }));
  done.catch(() => undefined);  // awaited by the caller; not an unhandled rejection meanwhile
  for (let tries = 0; !out.includes('"listening"'); ++tries) {
    assert.ok(tries < 200, `mptcp-peer does not listen on ${port}: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { done };  // wrapped: an async function returning the promise itself would wait for it
}

/** Linux uploads the input to braid-ustack's sink on `port`; returns the sink's line. */
async function linuxUpload(proc: UstackProcess, port: number, mptcp = true, index = 0): Promise<AppLine> {
  await must(inLinux([...(mptcp ? ['mptcpize', 'run'] : []), 'socat', '-u', `OPEN:${S().input}`, `TCP4:${STACK[0]}:${port}`]), 120_000);
  const line = await proc.connection(index);
  assert.equal(line.bytes, PATH_SIZE, JSON.stringify(line));
  assert.equal(line.sha256, S().inputSha, 'the sink received other bytes');
  return line;
}

/** braid-ustack's source client sends PATH_SIZE bytes to a Linux server on `port`. */
async function ustackUpload(name: string, port: number, extra: string[] = [], mptcp = true,
  during?: (proc: UstackProcess) => Promise<void>): Promise<{ line: AppLine; pcaps: string[]; proc: UstackProcess; peer: PeerResult }> {
  const { done } = await linuxServer(port, mptcp);
  const { proc, pcaps } = await ustack(name, ['--mode', 'source', '--connect', `${LINUX[0]}:${port}`, '--bytes', String(PATH_SIZE), ...extra]);
  if (during) await during(proc);
  const line = await proc.result();
  const peer = await done;
  assert.equal(peer.bytes_in, PATH_SIZE, `Linux received ${peer.bytes_in} bytes`);
  assert.equal(peer.sha256_in, line.sha256, 'Linux received other bytes than the source sent');
  assert.equal(peer.mptcp, mptcp && line.mptcp === true, `Linux's TCP_IS_MPTCP: ${JSON.stringify(peer)}`);
  return { line, pcaps, proc, peer };
}

/** The subflows Linux's MPTCP_FULL_INFO listed, as "local->remote" hosts. */
const fullInfoHosts = (peer: PeerResult): string[] =>
  peer.subflows.map((f) => `${f.local.replace(/:\d+$/, '')}->${f.remote.replace(/:\d+$/, '')}`);

function assertTwoPaths(line: AppLine): void {
  const paths = line.paths ?? [];
  assert.equal(line.mptcp, true, JSON.stringify(line));
  const locals = new Set(paths.filter((p) => p.established).map((p) => p.local.replace(/:\d+$/, '')));
  assert.ok(locals.has(STACK[0]!) && locals.has(STACK[1]!), `subflows not on both interfaces: ${JSON.stringify(paths)}`);
}

describe('braid-ustack MPTCP over two paths with Linux', { timeout: 420_000 }, () => {
  before(async () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
    const prefix = makePrefix();
    const s: Site = { linuxNs: extraNsName(prefix, 'linux'), stackNs: extraNsName(prefix, 'stack'), dir: mkdtempSync(path.join(tmpdir(), 'ustack-paths-')), input: '', inputSha: '' };
    site = s;
    await must(['ip', 'netns', 'add', s.linuxNs]);
    await must(['ip', 'netns', 'add', s.stackNs]);
    // MPTCP is per namespace: on in the one we made, whatever the host has.
    await must(inLinux(['sysctl', '-qw', 'net.mptcp.enabled=1']));
    for (const i of [0, 1]) await vethPath(s.linuxNs, s.stackNs, i, [`${LINUX[i]}/24`]);
    Object.assign(s, makeInput(s.dir, PATH_SIZE));
  });

  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    await sh(inLinux(['ip', 'link', 'set', 'ul1', 'up']));
  });

  after(async () => {
    if (site === undefined) return;
    await killNetnsProcesses([site.linuxNs, site.stackNs], 2000);
    await deleteNetns([site.linuxNs, site.stackNs]);
    rmSync(site.dir, { recursive: true, force: true });
  });

  it('Linux client with a `subflow` endpoint -> ustack sink: two subflows, one per path', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 2, addAddrAccepted: 1, endpoints: [[LINUX[1]!, 'dev', 'ul1', 'subflow']] });
    try {
      const { proc, pcaps } = await ustack('subflow', ['--mode', 'sink', '--port', String(PORTS[0])]);
      const before = await mptcpExt(S().linuxNs);
      const bytes0 = await pathBytes();
      const mon = new Monitor();
      const { value: line, pairs } = await watchSubflows(PORTS[0]!, linuxUpload(proc, PORTS[0]!));
      const events = await mon.stop();
      const d = mptcpDelta(before, await mptcpExt(S().linuxNs), 'subflow endpoint');
      const bytes1 = await pathBytes();
      const sent = [0, 1].map((i) => bytes1.tx[i]! - bytes0.tx[i]!);
      t.diagnostic(`Linux saw ${hostsOf(pairs).join(', ')}; sent ${sent.join(' / ')} bytes on ul0 / ul1; ${JSON.stringify(line.paths)}`);
      assert.ok(hostsOf(pairs).includes(`${LINUX[0]}->${STACK[0]}`) && hostsOf(pairs).includes(`${LINUX[1]}->${STACK[1]}`),
        `Linux's subflows: ${[...pairs].join(', ')}`);
      const subEst = events.filter((e) => e.includes('SF_ESTABLISHED') || e.includes('SUB_ESTABLISHED'));
      assert.ok(subEst.some((e) => e.includes(`saddr4=${LINUX[1]}`) && e.includes(`daddr4=${STACK[1]}`)), `ip mptcp monitor: ${events.join('\n')}`);
      assert.equal(d('MPJoinSynAckRx'), subEst.length);
      assert.ok(sent[1]! > PATH_SIZE / 20, `path 1 carried only ${sent[1]} bytes`);
      assertTwoPaths(line);
      assert.equal(await proc.stop(), 0);
      await checkCaptures(t, pcaps, 1);
    } finally {
      await undo();
    }
  });

  it('ustack client -> Linux server with a `signal` endpoint: the ustack joins the announced address', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 2, endpoints: [[LINUX[1]!, 'dev', 'ul1', 'signal']] });
    try {
      const before = await mptcpExt(S().linuxNs);
      const { value: r, pairs } = await watchSubflows(PORTS[1]!, ustackUpload('signal', PORTS[1]!));
      const d = mptcpDelta(before, await mptcpExt(S().linuxNs), 'signal endpoint');
      t.diagnostic(`Linux saw ${hostsOf(pairs).join(', ')}; ${JSON.stringify(r.line.paths)}`);
      assert.ok(d('AddAddrTx') >= 1, 'Linux announced nothing');
      assert.ok(d('EchoAdd') >= 1, 'we did not echo the ADD_ADDR');
      assert.ok(d('MPJoinSynRx') >= 1 && d('MPJoinAckRx') >= 1, 'Linux took no join');
      assert.ok(hostsOf(pairs).includes(`${LINUX[1]}->${STACK[1]}`), `Linux's subflows: ${[...pairs].join(', ')}`);
      assert.ok(r.peer.max_subflows >= 2 && fullInfoHosts(r.peer).includes(`${LINUX[1]}->${STACK[1]}`),
        `MPTCP_FULL_INFO: ${JSON.stringify(r.peer.subflows)}`);
      assertTwoPaths(r.line);
      await checkCaptures(t, r.pcaps, 1000);
    } finally {
      await undo();
    }
  });

  it('ustack client -> Linux server without endpoints: the ustack joins from its second interface', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 2 });
    try {
      const before = await mptcpExt(S().linuxNs);
      const { value: r, pairs } = await watchSubflows(PORTS[2]!, ustackUpload('nosignal', PORTS[2]!));
      const d = mptcpDelta(before, await mptcpExt(S().linuxNs), 'own join');
      t.diagnostic(`Linux saw ${hostsOf(pairs).join(', ')}; ${JSON.stringify(r.line.paths)}`);
      assert.ok(d('MPJoinSynRx') >= 1 && d('MPJoinAckRx') >= 1, 'Linux took no join');
      assert.ok(hostsOf(pairs).includes(`${LINUX[0]}->${STACK[1]}`), `Linux's subflows: ${[...pairs].join(', ')}`);
      assert.ok(r.peer.max_subflows >= 2 && fullInfoHosts(r.peer).includes(`${LINUX[0]}->${STACK[1]}`),
        `MPTCP_FULL_INFO: ${JSON.stringify(r.peer.subflows)}`);
      assertTwoPaths(r.line);
      await checkCaptures(t, r.pcaps, 1000);
    } finally {
      await undo();
    }
  });

  for (const checksums of [false, true]) {
    it(`ustack sink announces its second address (ADD_ADDR), Linux joins it; DSS checksums ${checksums ? 'on' : 'off'}`, { timeout: CASE_TIMEOUT }, async (t) => {
      const undo = await linuxPm({ subflows: 1, addAddrAccepted: 1, sysctls: { 'net.mptcp.checksum_enabled': checksums ? '1' : '0' } });
      try {
        const port = PORTS[checksums ? 4 : 3]!;
        const { proc, pcaps } = await ustack(`addaddr${checksums ? '-csum' : ''}`, ['--mode', 'sink', '--port', String(port)]);
        const before = await mptcpExt(S().linuxNs);
        const { value: line, pairs } = await watchSubflows(port, linuxUpload(proc, port));
        const d = mptcpDelta(before, await mptcpExt(S().linuxNs), 'ADD_ADDR');
        t.diagnostic(`Linux saw ${hostsOf(pairs).join(', ')}; AddAddr ${d('AddAddr')} EchoAdd ${d('EchoAdd')} MPJoinSynAckRx ${d('MPJoinSynAckRx')}`);
        assert.ok(d('AddAddr') >= 1, 'Linux took no ADD_ADDR');
        assert.ok(d('EchoAddTx') >= 1, 'Linux echoed no ADD_ADDR');
        assert.ok(d('MPJoinSynAckRx') >= 1, 'Linux joined nothing');
        assert.ok(hostsOf(pairs).some((p) => p.endsWith(`->${STACK[1]}`)), `Linux's subflows: ${[...pairs].join(', ')}`);
        assert.equal(line.dss_checksums === true, checksums, JSON.stringify(line));
        assertTwoPaths(line);
        assert.equal(await proc.stop(), 0);
        await checkCaptures(t, pcaps, 1);
      } finally {
        await undo();
      }
    });
  }

  it('Linux client (mptcp-peer) -> ustack echo announcing its second address: 64 MiB each way over both paths', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 1, addAddrAccepted: 1 });
    try {
      const port = PORTS[12]!;
      const { proc, pcaps } = await ustack('echo', ['--mode', 'echo', '--port', String(port)]);
      const before = await mptcpExt(S().linuxNs);
      const bytes0 = await pathBytes();
      const out = await must(inLinux([MPTCP_PEER, '--connect', `${STACK[0]}:${port}`, '--send', String(ECHO_SIZE)]), CASE_TIMEOUT);
      const peer = JSON.parse(out.split('\n').find((l) => l.includes('"event":"result"')) ?? '{}') as PeerResult;
      mptcpDelta(before, await mptcpExt(S().linuxNs), 'echo');
      const bytes1 = await pathBytes();
      const line = await proc.connection(0);
      const rx = [0, 1].map((i) => bytes1.rx[i]! - bytes0.rx[i]!);
      const tx = [0, 1].map((i) => bytes1.tx[i]! - bytes0.tx[i]!);
      t.diagnostic(`Linux sent ${tx.join(' / ')} and received ${rx.join(' / ')} bytes on ul0 / ul1; MPTCP_FULL_INFO ${JSON.stringify(peer.subflows)}`);
      assert.equal(peer.bytes_out, ECHO_SIZE);
      assert.equal(peer.bytes_in, ECHO_SIZE, 'the echo came back short');
      assert.equal(peer.sha256_in, peer.sha256_out, 'the echo came back with other bytes');
      assert.equal(peer.mptcp, true);
      assert.ok(peer.max_subflows >= 2 && fullInfoHosts(peer).includes(`${LINUX[1]}->${STACK[1]}`), `MPTCP_FULL_INFO: ${JSON.stringify(peer.subflows)}`);
      assert.equal(line.bytes_in, ECHO_SIZE, JSON.stringify(line));
      // Linux's sender used path 1. Ours is min-RTT: an echo sends at the pace it receives, so the
      // first path's send buffer rarely fills and path 1 may carry little of the way back (both
      // subflows are established either way: assertTwoPaths); our two-path sending is what the
      // upload cases check.
      assert.ok(tx[1]! > 256 * 1024, `Linux sent only ${tx[1]} bytes on path 1`);
      assertTwoPaths(line);
      assert.equal(await proc.stop(), 0);
      await checkCaptures(t, pcaps, 1);
    } finally {
      await undo();
    }
  });

  for (const listening of [true, false]) {
    it(`Linux userspace PM (pm_type 1) ${listening ? 'with' : 'without'} a PM listening: our join ${listening ? 'accepted' : 'refused'}`, { timeout: CASE_TIMEOUT }, async (t) => {
      const undo = await linuxPm({ sysctls: { 'net.mptcp.pm_type': '1' } });
      const mon = listening ? new Monitor() : undefined;
      try {
        const port = PORTS[listening ? 5 : 6]!;
        const before = await mptcpExt(S().linuxNs);
        const { value: r, pairs } = await watchSubflows(port, ustackUpload(`userspace${listening ? '' : '-off'}`, port));
        const d = mptcpDelta(before, await mptcpExt(S().linuxNs), 'userspace PM');
        const events = mon ? await mon.stop() : [];
        t.diagnostic(`Linux saw ${hostsOf(pairs).join(', ')}; MPJoinSynRx ${d('MPJoinSynRx')} MPJoinRejected ${d('MPJoinRejected')}; ${JSON.stringify(r.line.paths)}`);
        assert.equal(r.line.mptcp, true);
        if (listening) {
          assert.ok(d('MPJoinAckRx') >= 1, 'Linux took no join');
          assert.ok(events.some((e) => e.includes('SF_ESTABLISHED') || e.includes('SUB_ESTABLISHED')), events.join('\n'));
          assertTwoPaths(r.line);
        } else {
          assert.equal(d('MPJoinAckRx'), 0, 'Linux took a join with no PM listening');
        }
        await checkCaptures(t, r.pcaps, 1000);
      } finally {
        if (mon) await mon.stop();
        await undo();
      }
    });
  }

  it('Linux with MPTCP off: fallback to TCP both ways, intact', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ sysctls: { 'net.mptcp.enabled': '0' } });
    try {
      const { proc, pcaps } = await ustack('disabled', ['--mode', 'sink', '--port', String(PORTS[7])]);
      // socket(IPPROTO_MPTCP) fails with ENOPROTOOPT there (mptcpize would too): plain TCP programs.
      const line = await linuxUpload(proc, PORTS[7]!, false);
      assert.notEqual(line.mptcp, true, JSON.stringify(line));
      assert.equal(await proc.stop(), 0);
      const r = await ustackUpload('disabled-client', PORTS[8]!, [], false);
      assert.notEqual(r.line.mptcp, true, JSON.stringify(r.line));
      await checkCaptures(t, pcaps, 0);
      await checkCaptures(t, r.pcaps, 0);
    } finally {
      await undo();
    }
  });

  it('path 1 taken down mid-transfer (link down on ul1): completes intact', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 2, endpoints: [[LINUX[1]!, 'dev', 'ul1', 'signal']] });
    try {
      const before = await mptcpExt(S().linuxNs);
      const r = await ustackUpload('linkdown', PORTS[9]!, ['--link-poll-ms', '20'], true, async (proc) => {
        // Down once path 1 carries data.
        for (let i = 0; i < 400 && (await pathBytes()).rx[1]! < 2_000_000; i++) await new Promise((res) => setTimeout(res, 10));
        await must(inLinux(['ip', 'link', 'set', 'ul1', 'down']));
        void proc;
      });
      await must(inLinux(['ip', 'link', 'set', 'ul1', 'up']));
      mptcpDelta(before, await mptcpExt(S().linuxNs), 'link down');
      const links = r.proc.lines().filter((l) => l.event === 'link' && l.interface === 1);
      t.diagnostic(`link events of interface 1: ${JSON.stringify(links)}; ${JSON.stringify(r.line.paths)}`);
      assert.ok(links.some((l) => l.up === false), 'braid-ustack saw no link down on interface 1');
      await checkCaptures(t, r.pcaps, 1000);
    } finally {
      await sh(inLinux(['ip', 'link', 'set', 'ul1', 'up']));
      await undo();
    }
  });

  it('backup: a Linux `backup` endpoint -> the ustack sends (nearly) nothing on that path', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 2, endpoints: [[LINUX[1]!, 'dev', 'ul1', 'signal', 'backup']] });
    try {
      const b0 = await pathBytes();
      // Our own join from interface 1 to Linux's first address would be a path-1 subflow Linux did
      // not flag: only the announced (backup) address is joined.
      const r = await ustackUpload('backup-linux', PORTS[10]!, ['--no-subflow-path', '1']);
      const b1 = await pathBytes();
      const got = [0, 1].map((i) => b1.rx[i]! - b0.rx[i]!);
      t.diagnostic(`Linux received ${got.join(' / ')} bytes on ul0 / ul1; ${JSON.stringify(r.line.paths)}`);
      assertTwoPaths(r.line);
      assert.ok(r.line.paths!.some((p) => p.backup && p.local.startsWith(`${STACK[1]}:`)), `no path-1 subflow flagged backup: ${JSON.stringify(r.line.paths)}`);
      assert.ok(got[0]! / (got[0]! + got[1]!) >= 0.9, `the primary path carried only ${got[0]} of ${got[0]! + got[1]!} bytes`);
      await checkCaptures(t, r.pcaps, 1000);
    } finally {
      await undo();
    }
  });

  it('backup: ustack --backup-path 1 -> Linux sends (nearly) nothing on that path', { timeout: CASE_TIMEOUT }, async (t) => {
    const undo = await linuxPm({ subflows: 1, addAddrAccepted: 1 });
    try {
      const { proc, pcaps } = await ustack('backup-ustack', ['--mode', 'sink', '--port', String(PORTS[11]), '--backup-path', '1']);
      const b0 = await pathBytes();
      const line = await linuxUpload(proc, PORTS[11]!);
      const b1 = await pathBytes();
      const sent = [0, 1].map((i) => b1.tx[i]! - b0.tx[i]!);
      t.diagnostic(`Linux sent ${sent.join(' / ')} bytes on ul0 / ul1; ${JSON.stringify(line.paths)}`);
      assertTwoPaths(line);
      assert.ok(sent[0]! / (sent[0]! + sent[1]!) >= 0.9, `the primary path carried only ${sent[0]} of ${sent[0]! + sent[1]!} bytes`);
      assert.equal(await proc.stop(), 0);
      await checkCaptures(t, pcaps, 1);
    } finally {
      await undo();
    }
  });
});
