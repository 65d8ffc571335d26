// braid-ustack (the user-space stack's IP interface on a DPDK port) answers Linux's ARP, neighbour
// discovery and ping, over net_af_packet on a veth and over net_tap. Linux's own ping is the judge,
// and tshark checks the capture braid-ustack wrote: no malformed packet, no bad checksum.
// Needs the cmake build (test/run-all.sh makes it): build/ctest/native/ustack/braid-ustack.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  BINARY, checkCapture, LINUX_V4, LINUX_V6, must, sh, STACK_V4, STACK_V6, UstackProcess, vethPath,
  withNamespaces,
} from './ustack-harness';

const PINGS = 3;

async function ping(ns: string, family: 4 | 6, addr: string): Promise<void> {
  const r = await sh(['ip', 'netns', 'exec', ns, 'ping', `-${family}`, '-c', String(PINGS), '-i', '0.2', '-W', '2', addr]);
  assert.equal(r.code, 0, `ping ${addr} failed: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`));
}

/** tshark's verdict on the capture: every frame well-formed with good IP/ICMP/ICMPv6 checksums. */
async function checkPingCapture(pcap: string): Promise<void> {
  await checkCapture(pcap, {
    // ARP (2) + NS/NA (2) + pings and replies both ways: at least this many, or the check checks nothing.
    minFrames: 4 + 4 * PINGS,
    bad: '_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || ' +
      'icmp.checksum.status == 0 || icmpv6.checksum.status == 0',
  });
}

async function verifyRun(proc: UstackProcess, linuxNs: string, pcap: string): Promise<void> {
  await proc.ready();
  await ping(linuxNs, 4, STACK_V4);
  await ping(linuxNs, 6, STACK_V6);
  assert.equal(await proc.stop(), 0, `braid-ustack did not exit cleanly on SIGTERM: ${proc.stderr}`);
  assert.ok(proc.ifaceCounter('arp_replies') >= 1, proc.stdout);
  assert.ok(proc.ifaceCounter('nd_advertisements') >= 1, proc.stdout);
  assert.equal(proc.ifaceCounter('echo_replies'), 2 * PINGS, proc.stdout);
  await checkPingCapture(pcap);
}

describe('braid-ustack answers Linux ping', { timeout: 120_000 }, () => {
  it('is built', () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
  });

  it('over net_af_packet on a veth, IPv4 and IPv6', async () => {
    // Linux pings from one namespace; braid-ustack owns the veth's other end in a second one, where
    // the kernel has no address (and IPv6 off) so only braid-ustack answers.
    await withNamespaces(['linux', 'stack'], 'ustack-ping-', async ([linux, stack], dir) => {
      await vethPath(linux, stack, 0, [`${LINUX_V4}/24`, `${LINUX_V6}/64`]);
      const pcap = path.join(dir, 'af_packet.pcap');
      const proc = new UstackProcess(stack, [
        '--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK_V4}/24`, '--ip6', `${STACK_V6}/64`, '--pcap', pcap,
      ]);
      await verifyRun(proc, linux, pcap);
    });
  });

  it('over net_tap, IPv4 and IPv6', async () => {
    // net_tap creates its TAP interface in braid-ustack's namespace; Linux pings through it there.
    await withNamespaces(['tap'], 'ustack-ping-', async ([ns], dir) => {
      const pcap = path.join(dir, 'tap.pcap');
      const proc = new UstackProcess(ns, [
        '--vdev', 'net_tap0,iface=ut0', '--ip', `${STACK_V4}/24`, '--ip6', `${STACK_V6}/64`, '--pcap', pcap,
      ]);
      await proc.ready();
      await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V4}/24`, 'dev', 'ut0']);
      await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V6}/64`, 'dev', 'ut0', 'nodad']);
      await must(['ip', '-n', ns, 'link', 'set', 'ut0', 'up']);
      // A TAP device has no checksum offload unless its owner asks; make sure all the same.
      await sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', 'ut0', 'tx', 'off']);
      await verifyRun(proc, ns, pcap);
    });
  });
});
