// braid-ustack's TCP against unmodified Linux programs, over net_af_packet on a veth and over net_tap,
// in namespaces this test creates. Every transfer is 64 MiB (the size: af_packet moves that
// in well under a second here, so the whole matrix stays at 64 MiB):
//   ustack echo server   <- socat (IPv4 and IPv6): 64 MiB each way, sha256 of the echo == input
//   ustack sink server   <- socat upload (IPv4 and IPv6), nc upload (IPv4; netcat-openbsd,
//                           from setup.sh): the sink's reported sha256 == the file's
//   ustack source server -> curl (gopher://, which reads raw bytes to EOF; IPv4) and socat (IPv6)
//   ustack source client -> socat TCP-LISTEN server writing a file (IPv4 copying; IPv6 zero-copy from
//                           mbuf-backed buffers)
//   ustack sink client   <- socat TCP-LISTEN server sending a file (IPv4 and IPv6)
//   af_packet only: the echo run again with 2% loss each way made by nftables in the Linux
//   namespace (`numgen random mod 100 < 2 drop`): still intact.
// tshark judges every capture braid-ustack wrote: no malformed frame, no bad IP/TCP checksum, no
// expert error; TCP analysis flags only for flow control (zero window, window full, window update,
// window probes) and, in the loss run only, for what loss explains (retransmissions, dup ACKs,
// out-of-order, segments not captured, D-SACK). In the clean runs loss-recovery flags must be
// explained otherwise: frames the veth/tap or the DPDK driver counted as dropped, or Linux's tail
// loss probes and braid-ustack's (TcpExt TCPLossProbes, its LossProbes exit counter; at most one
// retransmission and one dup ACK each).
// Needs the cmake build (test/run-all.sh makes it): build/ctest/native/ustack/braid-ustack.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  BINARY, checkCapture, fromAddrs, LINUX_V4, LINUX_V6, makeInput, must, netstat, sh, sha256File, SIZE,
  STACK_V4, STACK_V6, tcpTrouble, tsharkFrames, UstackProcess, vethPath, withNamespaces,
} from './ustack-harness';

// TCP ports of the cases: echo, sink, source servers; Linux servers for the source and sink clients
// (7100/7200 + family); the loss run's echo server.
const PORTS = [7007, 7009, 7019, 7104, 7106, 7204, 7206, 7307];

/** One place to run the stack: where Linux runs, where braid-ustack runs, and its port. */
interface Site {
  label: string;
  linuxNs: string;
  stackNs: string;
  vdev: string;
  /** Frames the kernel dropped on the path so far (veth or tap counters; 0 once a tap is gone). */
  pathDrops: () => Promise<number>;
  /** Called after each braid-ustack is ready (net_tap's interface exists only while it runs). */
  afterStart: () => Promise<void>;
  dir: string;
  input: string;
  inputSha: string;
}

async function linkDrops(ns: string, dev: string): Promise<number> {
  const r = await sh(['ip', '-n', ns, '-j', '-s', 'link', 'show', 'dev', dev]);
  if (r.code !== 0) return 0;
  const [link] = JSON.parse(r.stdout) as Array<{ stats64?: { rx: { dropped: number }; tx: { dropped: number } } }>;
  return (link?.stats64?.rx.dropped ?? 0) + (link?.stats64?.tx.dropped ?? 0);
}

interface Started {
  proc: UstackProcess;
  pcap: string;
  dropsBefore: number;
  probesBefore: number;
}

/** Linux's TcpExt counter `name` in `ns` (per namespace). */
async function tcpExt(ns: string, name: string): Promise<number> {
  const v = (await netstat(ns, 'TcpExt')).get(name);
  assert.ok(v !== undefined, `no TcpExt ${name} in /proc/net/netstat of ${ns}`);
  return v;
}

async function startUstack(site: Site, name: string, args: string[]): Promise<Started> {
  const pcap = path.join(site.dir, `${site.label}-${name}.pcap`);
  const proc = new UstackProcess(site.stackNs, [
    '--vdev', site.vdev, '--ip', `${STACK_V4}/24`, '--ip6', `${STACK_V6}/64`, '--pcap', pcap, ...args,
  ], { waitStdin: true });
  await proc.ready();
  await site.afterStart();
  const dropsBefore = await site.pathDrops();
  const probesBefore = await tcpExt(site.linuxNs, 'TCPLossProbes');
  proc.go();  // the application starts now, with Linux's side configured
  return { proc, pcap, dropsBefore, probesBefore };
}

async function waitListening(ns: string, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await sh(['ip', 'netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim() !== '') return;
    assert.ok(Date.now() < deadline, `nothing listens on ${port} in ${ns}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function hostPort(family: 4 | 6, port: number, host = family === 4 ? STACK_V4 : STACK_V6): string {
  return family === 4 ? `${host}:${port}` : `[${host}]:${port}`;
}

function socatAddr(family: 4 | 6, port: number, host = family === 4 ? STACK_V4 : STACK_V6): string {
  return `TCP${family}:${hostPort(family, port, host)}`;
}

interface TcpCaptureCheck {
  /** Loss was injected: loss-recovery flags are expected. */
  lossy: boolean;
  /** Frames the path or the driver dropped by themselves: they explain loss-recovery flags too. */
  pathDrops: number;
  /** Tail loss probes Linux sent (TcpExt TCPLossProbes): each retransmits a segment not lost. */
  linuxProbes: number;
  /** Tail loss probes braid-ustack sent (its exit counter LossProbes), likewise. */
  ourProbes: number;
  /** Shown with a failure: braid-ustack's counters. */
  context: string;
}

/**
 * tshark's verdict on a capture: the harness's checkCapture (no malformed frame, no bad IP/TCP
 * checksum, no expert error) plus TCP analysis. Flow control shows in any run (the echo server's
 * window closes while Linux reads slowly); loss-recovery flags only where loss was injected.
 */
async function checkTcpCapture(pcap: string, opts: TcpCaptureCheck): Promise<{ frames: number; lossFlags: number }> {
  // Linux probes a zero window with a segment one below SND.UNA, which Wireshark names keep-alive.
  const flowControl =
    'tcp.analysis.window_update || tcp.analysis.zero_window || tcp.analysis.window_full || ' +
    'tcp.analysis.zero_window_probe || tcp.analysis.zero_window_probe_ack || ' +
    'tcp.analysis.keep_alive || tcp.analysis.keep_alive_ack';
  const lossExplained =
    'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission || ' +
    'tcp.analysis.duplicate_ack || tcp.analysis.out_of_order || tcp.analysis.lost_segment || ' +
    'tcp.analysis.ack_lost_segment || tcp.options.sack.dsack';
  // A tail loss probe (RFC 8985 TLP; Linux and braid-ustack both send them) retransmits the last
  // segment when its ACK is late, e.g. while the other end was descheduled on this shared machine;
  // the answer to the copy is a dup ACK from the other end.
  const fromLinux = fromAddrs([LINUX_V4, LINUX_V6]);
  const probeBy = (sender: string): string =>
    `((tcp.analysis.retransmission || tcp.analysis.spurious_retransmission) && ${sender}) || ` +
    `(tcp.analysis.duplicate_ack && !${sender})`;
  const probeExplained = [
    ...(opts.linuxProbes > 0 ? [probeBy(fromLinux)] : []),
    ...(opts.ourProbes > 0 ? [probeBy(`!${fromLinux}`)] : []),
  ].join(' || ');
  const probes = opts.linuxProbes + opts.ourProbes;
  const clean = !opts.lossy && opts.pathDrops === 0;
  const allowed = !clean ? `${flowControl} || ${lossExplained}`
    : probes > 0 ? `${flowControl} || ${probeExplained}` : flowControl;
  // The payload is random bytes: decoded as plain data on our ports (PORTS). Linux's 0xffff TCP
  // checksums are tolerated (tcpTrouble), ours never.
  const { frames, tshark } = await checkCapture(pcap, {
    bad: `${tcpTrouble([LINUX_V4, LINUX_V6])} || (tcp.analysis.flags && !(${allowed}))`,
    ports: PORTS,
    context: `path drops ${opts.pathDrops}, loss probes: Linux ${opts.linuxProbes}, ours ${opts.ourProbes}\n${opts.context}`,
  });
  if (clean) {
    // Nothing was lost on a clean path: at most one retransmission (and one dup ACK) per probe.
    const lines = await tsharkFrames(tshark, lossExplained, ['frame.number', '_ws.expert.message']);
    assert.ok(lines.length <= 2 * probes,
      `${lines.length} loss-recovery flags in ${pcap} though nothing was dropped and ${probes} loss probes were sent ` +
      `(Linux ${opts.linuxProbes}, ours ${opts.ourProbes}):\n${lines.slice(0, 20).join('\n')}\n${opts.context}`);
    return { frames, lossFlags: lines.length };
  }
  return { frames, lossFlags: (await tsharkFrames(tshark, lossExplained)).length };
}

/** Stops a server (or awaits a client's exit), then judges its capture. */
async function finish(t: TestContext, site: Site, s: Started, how: 'stop' | 'exit', lossy = false): Promise<void> {
  const pathDrops = Math.max(0, (await site.pathDrops()) - s.dropsBefore);
  const code = how === 'stop' ? await s.proc.stop() : await s.proc.exited;
  assert.equal(code, 0, `braid-ustack failed (${code}): ${s.proc.stdout}${s.proc.stderr}`);
  const drops = pathDrops + s.proc.driverDrops();
  const probes = (await tcpExt(site.linuxNs, 'TCPLossProbes')) - s.probesBefore;
  const context = s.proc.stdout.split('\n').filter((l) => /^(tcp|drop|driver|counters) /.test(l)).join('\n');
  const ourProbes = Number(/^tcp LossProbes=(\d+)$/m.exec(s.proc.stdout)?.[1] ?? 0);
  const c = await checkTcpCapture(s.pcap, { lossy, pathDrops: drops, linuxProbes: probes, ourProbes, context });
  t.diagnostic(`${site.label} ${path.basename(s.pcap)}: ${c.frames} frames, ${c.lossFlags} with loss-recovery flags, ` +
    `${drops} frames dropped by the path or driver, loss probes: Linux ${probes}, ours ${ourProbes}`);
  rmSync(s.pcap, { force: true });
}

// ---- the cases, each against a running site ----

async function echoServer(t: TestContext, site: Site): Promise<void> {
  const started0 = await startUstack(site, 'echo', ['--mode', 'echo', '--port', '7007']);
  const { proc } = started0;
  for (const [i, family] of ([4, 6] as const).entries()) {
    const out = path.join(site.dir, `echo${family}.out`);
    const started = Date.now();
    await must(['ip', 'netns', 'exec', site.linuxNs, 'sh', '-c',
      `socat -t 60 -b 65536 - ${socatAddr(family, 7007)} < ${site.input} > ${out}`], 120_000);
    t.diagnostic(`${site.label} echo IPv${family}: 64 MiB each way in ${Date.now() - started} ms`);
    assert.equal(statSync(out).size, SIZE, `echo IPv${family}: wrong length back`);
    assert.equal(await sha256File(out), site.inputSha, `echo IPv${family}: bytes changed`);
    const line = await proc.connection(i);
    assert.equal(line.bytes_in, SIZE);
    assert.equal(line.error, undefined, JSON.stringify(line));
    rmSync(out);
  }
  await finish(t, site, started0, 'stop');
}

async function sinkServer(t: TestContext, site: Site): Promise<void> {
  const started0 = await startUstack(site, 'sink', ['--mode', 'sink', '--port', '7009']);
  const { proc } = started0;
  const uploads: Array<[string, string[]]> = [
    ['socat IPv4', ['socat', '-u', `OPEN:${site.input}`, socatAddr(4, 7009)]],
    ['socat IPv6', ['socat', '-u', `OPEN:${site.input}`, socatAddr(6, 7009)]],
  ];
  uploads.push(['nc IPv4', ['sh', '-c', `nc -N ${STACK_V4} 7009 < ${site.input}`]]);
  for (const [i, [name, argv]] of uploads.entries()) {
    const started = Date.now();
    await must(['ip', 'netns', 'exec', site.linuxNs, ...argv], 120_000);
    const line = await proc.connection(i);
    t.diagnostic(`${site.label} sink <- ${name}: 64 MiB in ${Date.now() - started} ms`);
    assert.equal(line.bytes, SIZE, `${name}: ${JSON.stringify(line)}`);
    assert.equal(line.sha256, site.inputSha, `${name}: the sink received other bytes`);
  }
  await finish(t, site, started0, 'stop');
}

async function sourceServer(t: TestContext, site: Site): Promise<void> {
  const started0 = await startUstack(site, 'source', ['--mode', 'source', '--port', '7019', '--bytes', String(SIZE)]);
  const { proc } = started0;
  const downloads: Array<[string, (out: string) => string[]]> = [
    ['curl IPv4', (out) => ['curl', '-sS', '--max-time', '60', `gopher://${STACK_V4}:7019/0x`, '-o', out]],
    ['socat IPv6', (out) => ['socat', '-u', socatAddr(6, 7019), `CREATE:${out}`]],
  ];
  for (const [i, [name, argv]] of downloads.entries()) {
    const out = path.join(site.dir, `source${i}.out`);
    const started = Date.now();
    await must(['ip', 'netns', 'exec', site.linuxNs, ...argv(out)], 120_000);
    t.diagnostic(`${site.label} source -> ${name}: 64 MiB in ${Date.now() - started} ms`);
    const line = await proc.connection(i);
    assert.equal(statSync(out).size, SIZE, `${name}: got ${statSync(out).size} bytes`);
    assert.equal(await sha256File(out), line.sha256, `${name}: received other bytes than the source sent`);
    rmSync(out);
  }
  await finish(t, site, started0, 'stop');
}

/** A Linux socat server in the Linux namespace; resolves once it listens. */
async function linuxServer(site: Site, family: 4 | 6, port: number, addrs: string[]): Promise<{ done: Promise<number | null> }> {
  const listen = `TCP${family}-LISTEN:${port},reuseaddr`;
  const child = spawn('ip', ['netns', 'exec', site.linuxNs, 'socat', '-u', ...addrs.map((a) => (a === 'LISTEN' ? listen : a))],
    { stdio: 'ignore' });
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitListening(site.linuxNs, port);
  return { done };
}

async function clients(t: TestContext, site: Site): Promise<void> {
  for (const family of [4, 6] as const) {
    // ustack source -> Linux socat writing a file.
    const port = 7100 + family;
    const out = path.join(site.dir, `client-source${family}.out`);
    const server = await linuxServer(site, family, port, ['LISTEN', `CREATE:${out}`]);
    const linuxHost = family === 4 ? LINUX_V4 : LINUX_V6;
    let started = Date.now();
    // The IPv6 run sends from mbuf-backed zero-copy buffers (Stack::SendBuffer).
    const src = await startUstack(site, `source-client${family}`, [
      '--mode', 'source', '--connect', hostPort(family, port, linuxHost), '--bytes', String(SIZE),
      ...(family === 6 ? ['--zero-copy'] : []),
    ]);
    await finish(t, site, src, 'exit');
    assert.equal(await server.done, 0, 'the Linux socat server failed');
    t.diagnostic(`${site.label} ustack source client IPv${family} -> socat: 64 MiB in ${Date.now() - started} ms (with EAL start)`);
    const result = src.proc.lines().find((l) => l.event === 'result');
    assert.ok(result !== undefined, src.proc.stdout);
    assert.equal(result.bytes, SIZE);
    assert.equal(await sha256File(out), result.sha256, 'Linux received other bytes than the source sent');
    rmSync(out);

    // Linux socat sending a file -> ustack sink client.
    const port2 = 7200 + family;
    const server2 = await linuxServer(site, family, port2, [`OPEN:${site.input}`, 'LISTEN']);
    started = Date.now();
    const sink = await startUstack(site, `sink-client${family}`, ['--mode', 'sink', '--connect', hostPort(family, port2, linuxHost)]);
    await finish(t, site, sink, 'exit');
    assert.equal(await server2.done, 0, 'the Linux socat server failed');
    t.diagnostic(`${site.label} socat IPv${family} -> ustack sink client: 64 MiB in ${Date.now() - started} ms (with EAL start)`);
    const r2 = sink.proc.lines().find((l) => l.event === 'result');
    assert.ok(r2 !== undefined, sink.proc.stdout);
    assert.equal(r2.bytes, SIZE);
    assert.equal(r2.sha256, site.inputSha, 'the sink client received other bytes');
  }
}

async function echoWithLoss(t: TestContext, site: Site): Promise<void> {
  // Only Linux's TCP is dropped: the table lives in the Linux namespace, braid-ustack's frames
  // never pass netfilter there except as Linux receives them.
  writeFileSync(path.join(site.dir, 'loss.nft'),
    'table inet ustack_loss {\n' +
      '  chain in { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 2 counter drop; }\n' +
      '  chain out { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 2 counter drop; }\n' +
      '}\n');
  await must(['ip', 'netns', 'exec', site.linuxNs, 'nft', '-f', path.join(site.dir, 'loss.nft')]);
  try {
    const s = await startUstack(site, 'echo-loss', ['--mode', 'echo', '--port', '7307']);
    const { proc, pcap } = s;
    const out = path.join(site.dir, 'echo-loss.out');
    const started = Date.now();
    await must(['ip', 'netns', 'exec', site.linuxNs, 'sh', '-c',
      `socat -t 60 -b 65536 - ${socatAddr(4, 7307)} < ${site.input} > ${out}`], 240_000);
    const dropped = await must(['ip', 'netns', 'exec', site.linuxNs, 'nft', 'list', 'table', 'inet', 'ustack_loss']);
    const counts = [...dropped.matchAll(/packets (\d+)/g)].map((m) => Number(m[1]));
    t.diagnostic(`${site.label} echo IPv4 with 2% loss: 64 MiB each way in ${Date.now() - started} ms; nft dropped ${counts.join(' in + ')} out`);
    assert.ok(counts.length === 2 && counts[0]! > 0 && counts[1]! > 0, `nftables dropped nothing: ${dropped}`);
    assert.equal(statSync(out).size, SIZE, 'echo under loss: wrong length back');
    assert.equal(await sha256File(out), site.inputSha, 'echo under loss: bytes changed');
    rmSync(out);
    const line = await proc.connection(0);
    assert.equal(line.bytes_in, SIZE);
    assert.equal(await proc.stop(), 0);
    const c = await checkTcpCapture(pcap, { lossy: true, pathDrops: 0, linuxProbes: 0, ourProbes: 0, context: proc.stdout });
    assert.ok(c.lossFlags > 0, 'the loss left no trace in the capture: was it injected?');
    t.diagnostic(`${site.label} ${path.basename(pcap)}: ${c.frames} frames, ${c.lossFlags} with loss-recovery flags`);
    rmSync(pcap, { force: true });
  } finally {
    await sh(['ip', 'netns', 'exec', site.linuxNs, 'nft', 'delete', 'table', 'inet', 'ustack_loss']);
  }
}

describe('braid-ustack TCP interop with Linux', { timeout: 600_000 }, () => {
  it('is built', () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
  });

  it('over net_af_packet on a veth: echo, sink, source, clients, IPv4 and IPv6, and 2% loss', async (t) => {
    // Linux in one namespace; braid-ustack owns the veth's other end in a second one, where the
    // kernel has no address (and IPv6 off) so only braid-ustack answers.
    await withNamespaces(['linux', 'stack'], 'ustack-tcp-', async ([linux, stack], dir) => {
      await vethPath(linux, stack, 0, [`${LINUX_V4}/24`, `${LINUX_V6}/64`]);
      const site: Site = {
        label: 'af_packet', linuxNs: linux, stackNs: stack, vdev: 'net_af_packet0,iface=us0',
        pathDrops: async () => (await linkDrops(linux, 'ul0')) + (await linkDrops(stack, 'us0')),
        afterStart: async () => {}, dir, ...makeInput(dir),
      };
      await echoServer(t, site);
      await sinkServer(t, site);
      await sourceServer(t, site);
      await clients(t, site);
      await echoWithLoss(t, site);
    });
  });

  it('over net_tap: echo, sink, source, clients, IPv4 and IPv6', async (t) => {
    // net_tap creates its TAP interface in braid-ustack's namespace while it runs; Linux talks to
    // it there, so each start re-addresses the new interface.
    await withNamespaces(['tap'], 'ustack-tcp-', async ([ns], dir) => {
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      const site: Site = {
        label: 'tap', linuxNs: ns, stackNs: ns, vdev: 'net_tap0,iface=ut0',
        pathDrops: () => linkDrops(ns, 'ut0'),
        afterStart: async () => {
          await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V4}/24`, 'dev', 'ut0']);
          await must(['ip', '-n', ns, 'addr', 'add', `${LINUX_V6}/64`, 'dev', 'ut0', 'nodad']);
          await must(['ip', '-n', ns, 'link', 'set', 'ut0', 'up']);
          await sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', 'ut0', 'tx', 'off']);
        },
        dir, ...makeInput(dir),
      };
      await echoServer(t, site);
      await sinkServer(t, site);
      await sourceServer(t, site);
      await clients(t, site);
    });
  });
});
