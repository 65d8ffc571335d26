// braid-ustack (the user-space stack's IP interface on a DPDK port) answers Linux's ARP, neighbour
// discovery and ping, over net_af_packet on a veth and over net_tap. Linux's own ping is the judge,
// and tshark checks the capture braid-ustack wrote: no malformed packet, no bad checksum.
// Needs the cmake build (test/run-all.sh makes it): build/ctest/native/ustack/braid-ustack.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { extraNsName } from '../../src/testbed';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const BINARY = path.join(ROOT, 'build/ctest/native/ustack/braid-ustack');
const LINUX_V4 = '198.18.0.1';
const STACK_V4 = '198.18.0.2';
const LINUX_V6 = '2001:2:0:ff::1';
const STACK_V6 = '2001:2:0:ff::2';
const PINGS = 3;

async function sh(argv: string[], timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(argv[0]!, argv.slice(1), { timeout });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

async function must(argv: string[]): Promise<string> {
  const r = await sh(argv);
  assert.equal(r.code, 0, `\`${argv.join(' ')}\` failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** braid-ustack in `ns`, its stdout collected; resolves once it printed "ready". */
class UstackProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(ns: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, BINARY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/ ready$/m.test(this.stdout)) {
      if (this.child.exitCode !== null) assert.fail(`braid-ustack exited ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) assert.fail(`braid-ustack not ready after ${timeoutMs} ms: ${this.stdout}${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM; resolves with the exit code once the counters are printed. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }

  counter(name: string): number {
    const m = new RegExp(`\\b${name}=(\\d+)`).exec(this.stdout);
    return m === null ? -1 : Number(m[1]);
  }
}

async function ping(ns: string, family: 4 | 6, addr: string): Promise<void> {
  const r = await sh(['ip', 'netns', 'exec', ns, 'ping', `-${family}`, '-c', String(PINGS), '-i', '0.2', '-W', '2', addr]);
  assert.equal(r.code, 0, `ping ${addr} failed: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`));
}

/** tshark's verdict on the capture: every frame well-formed with good IP/ICMP/ICMPv6 checksums. */
async function checkCapture(pcap: string): Promise<void> {
  const count = await must(['tshark', '-r', pcap, '-T', 'fields', '-e', 'frame.number']);
  // ARP (2) + NS/NA (2) + pings and replies both ways: at least this many, or the check checks nothing.
  assert.ok(count.trim().split('\n').length >= 4 + 4 * PINGS, `capture too short: ${count}`);
  const bad = await must([
    'tshark', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-Y',
    '_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || ' +
      'icmp.checksum.status == 0 || icmpv6.checksum.status == 0',
  ]);
  assert.equal(bad.trim(), '', `tshark flags frames of ${pcap}:\n${bad}`);
}

async function verifyRun(proc: UstackProcess, linuxNs: string, pcap: string): Promise<void> {
  await proc.ready();
  await ping(linuxNs, 4, STACK_V4);
  await ping(linuxNs, 6, STACK_V6);
  assert.equal(await proc.stop(), 0, `braid-ustack did not exit cleanly on SIGTERM: ${proc.stderr}`);
  assert.ok(proc.counter('arp_replies') >= 1, proc.stdout);
  assert.ok(proc.counter('nd_advertisements') >= 1, proc.stdout);
  assert.equal(proc.counter('echo_replies'), 2 * PINGS, proc.stdout);
  await checkCapture(pcap);
}

describe('braid-ustack answers Linux ping', { timeout: 120_000 }, () => {
  it('is built', () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
  });

  it('over net_af_packet on a veth, IPv4 and IPv6', async () => {
    const prefix = makePrefix();
    // Linux pings from one namespace; braid-ustack owns the veth's other end in a second one, where
    // the kernel has no address (and IPv6 off) so only braid-ustack answers.
    const linux = extraNsName(prefix, 'linux');
    const stack = extraNsName(prefix, 'stack');
    const dir = mkdtempSync(path.join(tmpdir(), 'ustack-ping-'));
    let proc: UstackProcess | undefined;
    try {
      await must(['ip', 'netns', 'add', linux]);
      await must(['ip', 'netns', 'add', stack]);
      await must(['ip', '-n', linux, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'us0', 'netns', stack]);
      await must(['ip', '-n', linux, 'addr', 'add', `${LINUX_V4}/24`, 'dev', 'ul0']);
      await must(['ip', '-n', linux, 'addr', 'add', `${LINUX_V6}/64`, 'dev', 'ul0', 'nodad']);
      await must(['ip', '-n', linux, 'link', 'set', 'ul0', 'up']);
      // The kernel would leave TX checksums to the "NIC" (DESIGN.md, DPDK facts).
      await must(['ip', 'netns', 'exec', linux, 'ethtool', '-K', 'ul0', 'tx', 'off']);
      await must(['ip', 'netns', 'exec', stack, 'sysctl', '-qw', 'net.ipv6.conf.us0.disable_ipv6=1']);
      await must(['ip', '-n', stack, 'link', 'set', 'us0', 'up']);
      const pcap = path.join(dir, 'af_packet.pcap');
      proc = new UstackProcess(stack, [
        '--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK_V4}/24`, '--ip6', `${STACK_V6}/64`, '--pcap', pcap,
      ]);
      await verifyRun(proc, linux, pcap);
    } finally {
      proc?.child.kill('SIGKILL');
      await killNetnsProcesses([linux, stack], 2000);
      await deleteNetns([linux, stack]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over net_tap, IPv4 and IPv6', async () => {
    const prefix = makePrefix();
    // net_tap creates its TAP interface in braid-ustack's namespace; Linux pings through it there.
    const ns = extraNsName(prefix, 'tap');
    const dir = mkdtempSync(path.join(tmpdir(), 'ustack-ping-'));
    let proc: UstackProcess | undefined;
    try {
      await must(['ip', 'netns', 'add', ns]);
      const pcap = path.join(dir, 'tap.pcap');
      proc = new UstackProcess(ns, [
        '--vdev', 'net_tap0,iface=ut0', '--ip', `${STACK_V4}/24`, '--ip6', `${STACK_V6}/64`, '--pcap', pcap,
      ]);
      await proc.ready();
      await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V4}/24`, 'dev', 'ut0']);
      await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V6}/64`, 'dev', 'ut0', 'nodad']);
      await must(['ip', '-n', ns, 'link', 'set', 'ut0', 'up']);
      // A TAP device has no checksum offload unless its owner asks; make sure all the same.
      await sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', 'ut0', 'tx', 'off']);
      await verifyRun(proc, ns, pcap);
    } finally {
      proc?.child.kill('SIGKILL');
      await killNetnsProcesses([ns], 2000);
      await deleteNetns([ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
