// braid-ustack's MPTCP (--mptcp: mptcp::MptcpStack) against Linux's kernel MPTCP, over
// net_af_packet on a veth, in namespaces this test creates:
//   ustack sink server   <- `mptcpize run socat` upload, 64 MiB: the sink's sha256 == the file's
//   ustack sink server   <- plain socat (no MPTCP): fallback to TCP, 64 MiB intact
//   ustack echo server   <- `mptcpize run socat`, 64 MiB each way: the echo's sha256 == the input's
//   ustack source client -> `mptcpize run socat` server, 64 MiB: Linux's file sha256 == the source's
//   ustack source client -> plain socat server: fallback to TCP, 64 MiB intact
//   ustack echo server   <- `mptcpize run socat` with 2% loss each way (nftables), 16 MiB each way
//                           (should it stall, Linux's `ss -tinM` and MPTcpExt/TcpExt go in the error)
//   ustack echo server   <- `mptcpize run socat` with DSS checksums on (net.mptcp.checksum_enabled=1
//                           in Linux's namespace), 64 MiB each way: Linux verifies every checksum
//                           we send (MPTcpExtDataCsumErr stays 0)
//   ustack echo server   <- `mptcpize run socat` whose kernel has a second address as a `subflow`
//                           endpoint: Linux joins a second subflow (MP_JOIN, checked by both HMACs),
//                           64 MiB each way over both (the same veth: two subflows, one wire)
// Linux proves MPTCP was negotiated and kept: its MPTcpExt counters (MPCapableSYNACKRX as client,
// MPCapableSYNRX and MPCapableACKRX as server) rise for the MPTCP runs only, and the counters of
// fallback, bad mappings, checksum failures, MP_FAIL, MP_RST, failed HMACs and dropped ADD_ADDRs
// (the harness's BAD_MPTCP_COUNTERS) stay 0. braid-ustack's line says
// "mptcp":true exactly for the MPTCP runs. tshark, with its MPTCP analysis on, finds no malformed
// frame, bad checksum or expert error in any capture.
// Needs the cmake build (test/run-all.sh makes it): build/ctest/native/ustack/braid-ustack.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  BINARY, checkMptcpCapture, LINUX_V4, makeInput, mptcpDelta, mptcpExt, must, sh, sha256File, SIZE, STACK_V4,
  UstackProcess, vethPath, withNamespaces,
} from './ustack-harness';

const LINUX_V4_JOIN = '198.18.0.3';
const LOSS_SIZE = 16 * 1024 * 1024;
const PORTS = [7409, 7407, 7504, 7505, 7417, 7427, 7437];

interface Site {
  linuxNs: string;
  stackNs: string;
  dir: string;
  input: string;
  inputSha: string;
}

async function startUstack(site: Site, name: string, args: string[]): Promise<{ proc: UstackProcess; pcap: string }> {
  const pcap = path.join(site.dir, `${name}.pcap`);
  const proc = new UstackProcess(site.stackNs, ['--mptcp', '--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK_V4}/24`, '--pcap', pcap, ...args]);
  await proc.ready();
  return { proc, pcap };
}

/** tshark with MPTCP analysis over one capture of us0 (the harness's checkMptcpCapture). */
function checkCapture(pcap: string): Promise<number> {
  return checkMptcpCapture(pcap, { ports: PORTS, linuxAddrs: [LINUX_V4, LINUX_V4_JOIN], stackAddrs: [STACK_V4] });
}

/** Stops a server, then judges its capture; `minDss`: our frames with a DSS mapping at least. */
async function stopAndCheck(t: TestContext, s: { proc: UstackProcess; pcap: string }, minDss: number): Promise<void> {
  assert.equal(await s.proc.stop(), 0, `braid-ustack failed: ${s.proc.stdout}${s.proc.stderr}`);
  const dss = await checkCapture(s.pcap);
  assert.ok(dss >= minDss, `only ${dss} frames with our DSS mappings in ${s.pcap}`);
  t.diagnostic(`${path.basename(s.pcap)}: ${dss} of our frames with DSS mappings, tshark clean`);
  rmSync(s.pcap, { force: true });
}

function linux(site: Site, argv: string[], mptcp: boolean): string[] {
  return ['ip', 'netns', 'exec', site.linuxNs, ...(mptcp ? ['mptcpize', 'run'] : []), ...argv];
}

async function sinkServer(t: TestContext, site: Site): Promise<void> {
  const s = await startUstack(site, 'sink', ['--mode', 'sink', '--port', '7409']);
  for (const [i, mptcp] of [true, false].entries()) {
    const before = await mptcpExt(site.linuxNs);
    const started = Date.now();
    await must(linux(site, ['socat', '-u', `OPEN:${site.input}`, `TCP4:${STACK_V4}:7409`], mptcp), 120_000);
    const line = await s.proc.connection(i);
    const d = mptcpDelta(before, await mptcpExt(site.linuxNs), `sink <- ${mptcp ? 'mptcpize ' : ''}socat`);
    t.diagnostic(`sink <- ${mptcp ? 'mptcpize ' : ''}socat: 64 MiB in ${Date.now() - started} ms`);
    assert.equal(line.bytes, SIZE, JSON.stringify(line));
    assert.equal(line.sha256, site.inputSha, 'the sink received other bytes');
    assert.equal(line.mptcp === true, mptcp, `sink line: ${JSON.stringify(line)}`);
    assert.equal(d('MPCapableSYNTX'), mptcp ? 1 : 0);
    assert.equal(d('MPCapableSYNACKRX'), mptcp ? 1 : 0, 'Linux saw no MP_CAPABLE SYN/ACK');
  }
  // A sink sends no data: its one mapping is the DATA_FIN alone.
  await stopAndCheck(t, s, 1);
}

async function echoServer(t: TestContext, site: Site): Promise<void> {
  const s = await startUstack(site, 'echo', ['--mode', 'echo', '--port', '7407']);
  const out = path.join(site.dir, 'echo.out');
  const before = await mptcpExt(site.linuxNs);
  const started = Date.now();
  await must(linux(site, ['sh', '-c', `socat -t 60 -b 65536 - TCP4:${STACK_V4}:7407 < ${site.input} > ${out}`], true), 120_000);
  const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'echo');
  t.diagnostic(`echo <- mptcpize socat: 64 MiB each way in ${Date.now() - started} ms`);
  assert.equal(statSync(out).size, SIZE, 'echo: wrong length back');
  assert.equal(await sha256File(out), site.inputSha, 'echo: bytes changed');
  const line = await s.proc.connection(0);
  assert.equal(line.bytes_in, SIZE);
  assert.equal(line.mptcp, true, JSON.stringify(line));
  assert.equal(d('MPCapableSYNACKRX'), 1, 'Linux saw no MP_CAPABLE SYN/ACK');
  rmSync(out);
  await stopAndCheck(t, s, 1000);
}

async function sourceClient(t: TestContext, site: Site): Promise<void> {
  for (const [port, mptcp] of [[7504, true], [7505, false]] as const) {
    const out = path.join(site.dir, `client${port}.out`);
    const server = spawn('ip', linux(site, ['socat', '-u', `TCP4-LISTEN:${port},reuseaddr`, `CREATE:${out}`], mptcp).slice(1),
      { stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    for (let tries = 0; ; ++tries) {
      const r = await sh(['ip', 'netns', 'exec', site.linuxNs, 'ss', '-Hltn', `sport = :${port}`]);
      if (r.code === 0 && r.stdout.trim() !== '') break;
      assert.ok(tries < 200, `nothing listens on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = await mptcpExt(site.linuxNs);
    const started = Date.now();
    const s = await startUstack(site, `source-client${port}`,
      ['--mode', 'source', '--connect', `${LINUX_V4}:${port}`, '--bytes', String(SIZE)]);
    assert.equal(await s.proc.exited, 0, `braid-ustack source client failed: ${s.proc.stdout}${s.proc.stderr}`);
    assert.equal(await done, 0, 'the Linux socat server failed');
    const d = mptcpDelta(before, await mptcpExt(site.linuxNs), `source client -> ${mptcp ? 'mptcpize ' : ''}socat`);
    t.diagnostic(`source client -> ${mptcp ? 'mptcpize ' : ''}socat: 64 MiB in ${Date.now() - started} ms (with EAL start)`);
    const result = s.proc.lines().find((l) => l.event === 'result');
    assert.ok(result !== undefined, s.proc.stdout);
    assert.equal(result.bytes, SIZE);
    assert.equal(result.mptcp === true, mptcp, JSON.stringify(result));
    assert.equal(await sha256File(out), result.sha256, 'Linux received other bytes than the source sent');
    assert.equal(d('MPCapableSYNRX'), mptcp ? 1 : 0, 'Linux saw no MP_CAPABLE SYN');
    assert.equal(d('MPCapableACKRX'), mptcp ? 1 : 0, 'Linux saw no MP_CAPABLE third ACK');
    rmSync(out);
    const dss = await checkCapture(s.pcap);
    assert.ok(mptcp ? dss > 1000 : dss === 0, `${dss} frames with our DSS mappings in ${s.pcap}`);
    rmSync(s.pcap, { force: true });
  }
}

async function echoWithLoss(t: TestContext, site: Site): Promise<void> {
  writeFileSync(path.join(site.dir, 'loss.nft'),
    'table inet ustack_loss {\n' +
      '  chain in { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 2 counter drop; }\n' +
      '  chain out { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 2 counter drop; }\n' +
      '}\n');
  const input = path.join(site.dir, 'loss.in');
  const data = randomBytes(LOSS_SIZE);
  writeFileSync(input, data);
  await must(['ip', 'netns', 'exec', site.linuxNs, 'nft', '-f', path.join(site.dir, 'loss.nft')]);
  try {
    const s = await startUstack(site, 'echo-loss', ['--mode', 'echo', '--port', '7417']);
    const out = path.join(site.dir, 'echo-loss.out');
    const before = await mptcpExt(site.linuxNs);
    const started = Date.now();
    // A stall (socat not done in 100 s): Linux's subflow and connection state is read while the
    // socket still exists, and goes into the error.
    const stall = path.join(site.dir, 'stall.txt');
    const script = `socat -t 60 -b 65536 - TCP4:${STACK_V4}:7417 < ${input} > ${out} & p=$!; i=0; ` +
      `while kill -0 $p 2>/dev/null; do i=$((i+1)); if [ $i -ge 1000 ]; then ss -tinM > ${stall}; ` +
      `nstat -az 'MPTcpExt*' 'TcpExt*Retrans*' 'TcpExtTCPLoss*' >> ${stall}; kill $p; exit 124; fi; sleep 0.1; done; wait $p`;
    const r = await sh(linux(site, ['sh', '-c', script], true), 120_000);
    if (r.code !== 0) {
      const state = existsSync(stall) ? readFileSync(stall, 'utf8') : '(no state captured)';
      assert.fail(`echo under loss: socat failed (${r.code}) after ${Date.now() - started} ms with ` +
        `${existsSync(out) ? statSync(out).size : 0} of ${LOSS_SIZE} bytes back: ${r.stderr.trim()}\n${state}`);
    }
    const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'echo with loss');
    const dropped = await must(['ip', 'netns', 'exec', site.linuxNs, 'nft', 'list', 'table', 'inet', 'ustack_loss']);
    const counts = [...dropped.matchAll(/packets (\d+)/g)].map((m) => Number(m[1]));
    t.diagnostic(`echo <- mptcpize socat, 2% loss: 16 MiB each way in ${Date.now() - started} ms; nft dropped ${counts.join(' in + ')} out`);
    assert.ok(counts.length === 2 && counts[0]! > 0 && counts[1]! > 0, `nftables dropped nothing: ${dropped}`);
    assert.equal(statSync(out).size, LOSS_SIZE, 'echo under loss: wrong length back');
    assert.equal(await sha256File(out), createHash('sha256').update(data).digest('hex'), 'echo under loss: bytes changed');
    assert.equal(d('MPCapableSYNACKRX'), 1);
    const line = await s.proc.connection(0);
    assert.equal(line.mptcp, true, JSON.stringify(line));
    rmSync(out);
    await stopAndCheck(t, s, 1000);
  } finally {
    await sh(['ip', 'netns', 'exec', site.linuxNs, 'nft', 'delete', 'table', 'inet', 'ustack_loss']);
  }
}

async function echoWithChecksums(t: TestContext, site: Site): Promise<void> {
  await must(['ip', 'netns', 'exec', site.linuxNs, 'sysctl', '-qw', 'net.mptcp.checksum_enabled=1']);
  try {
    const s = await startUstack(site, 'echo-csum', ['--mode', 'echo', '--port', '7437']);
    const out = path.join(site.dir, 'echo-csum.out');
    const before = await mptcpExt(site.linuxNs);
    const started = Date.now();
    await must(linux(site, ['sh', '-c', `socat -t 60 -b 65536 - TCP4:${STACK_V4}:7437 < ${site.input} > ${out}`], true), 120_000);
    const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'echo with DSS checksums');
    t.diagnostic(`echo <- mptcpize socat with DSS checksums: 64 MiB each way in ${Date.now() - started} ms`);
    assert.equal(statSync(out).size, SIZE, 'echo with checksums: wrong length back');
    assert.equal(await sha256File(out), site.inputSha, 'echo with checksums: bytes changed');
    assert.equal(d('MPCapableSYNACKRX'), 1, 'Linux saw no MP_CAPABLE SYN/ACK');
    assert.equal(d('DataCsumErr'), 0);
    // Negotiated on both sides (Linux's A bit): our mappings carry checksums, and Linux checked each
    // one (a wrong one counts DataCsumErr, a missing one makes the mapping invalid).
    const line = await s.proc.connection(0);
    assert.equal(line.mptcp, true, JSON.stringify(line));
    assert.equal(line.dss_checksums, true, JSON.stringify(line));
    rmSync(out);
    assert.equal(await s.proc.stop(), 0, `braid-ustack failed: ${s.proc.stdout}${s.proc.stderr}`);
    const dss = await checkCapture(s.pcap);
    t.diagnostic(`echo-csum.pcap: ${dss} of our frames with DSS mappings, tshark clean`);
    rmSync(s.pcap, { force: true });
  } finally {
    await sh(['ip', 'netns', 'exec', site.linuxNs, 'sysctl', '-qw', 'net.mptcp.checksum_enabled=0']);
  }
}

async function echoWithJoin(t: TestContext, site: Site): Promise<void> {
  // Linux's path manager opens a subflow from every `subflow` endpoint (namespace-local settings).
  await must(['ip', '-n', site.linuxNs, 'addr', 'add', `${LINUX_V4_JOIN}/24`, 'dev', 'ul0']);
  await must(['ip', 'netns', 'exec', site.linuxNs, 'ip', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '0']);
  await must(['ip', 'netns', 'exec', site.linuxNs, 'ip', 'mptcp', 'endpoint', 'add', LINUX_V4_JOIN, 'dev', 'ul0', 'subflow']);
  const s = await startUstack(site, 'echo-join', ['--mode', 'echo', '--port', '7427']);
  const out = path.join(site.dir, 'echo-join.out');
  const before = await mptcpExt(site.linuxNs);
  const started = Date.now();
  await must(linux(site, ['sh', '-c', `socat -t 60 -b 65536 - TCP4:${STACK_V4}:7427 < ${site.input} > ${out}`], true), 120_000);
  const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'echo with a joined subflow');
  t.diagnostic(`echo <- mptcpize socat with a second subflow: 64 MiB each way in ${Date.now() - started} ms`);
  assert.equal(statSync(out).size, SIZE, 'echo with join: wrong length back');
  assert.equal(await sha256File(out), site.inputSha, 'echo with join: bytes changed');
  assert.equal(d('MPCapableSYNACKRX'), 1, 'Linux saw no MP_CAPABLE SYN/ACK');
  assert.equal(d('MPJoinSynTx'), 1, 'Linux sent no MP_JOIN SYN');
  assert.equal(d('MPJoinSynAckRx'), 1, 'Linux accepted no MP_JOIN SYN/ACK (HMAC)');
  assert.equal(d('MPJoinSynAckHMacFailure'), 0, 'Linux found our MP_JOIN SYN/ACK HMAC wrong');
  const line = await s.proc.connection(0);
  assert.equal(line.mptcp, true, JSON.stringify(line));
  rmSync(out);
  assert.equal(await s.proc.stop(), 0, `braid-ustack failed: ${s.proc.stdout}${s.proc.stderr}`);
  assert.equal(line.subflows, 2, `braid-ustack did not join the second subflow: ${JSON.stringify(line)}\n${s.proc.stdout}`);
  assert.match(s.proc.stdout, /^mptcp JoinAckRx=1$/m, 'braid-ustack counted no valid third ACK');
  const dss = await checkCapture(s.pcap);
  assert.ok(dss >= 1000, `only ${dss} frames with our DSS mappings`);
  t.diagnostic(`echo-join.pcap: ${dss} of our frames with DSS mappings, tshark clean`);
  // Both subflows carried data: frames with payload from each of Linux's two addresses, counted in
  // one tshark pass. tshark has exited 2 with no message on such a capture twice in many runs
  // (a capture checkCapture had just read cleanly): that exit alone is tried once more.
  const argv = ['tshark', '-r', s.pcap, '-Y', 'tcp.port == 7427 && tcp.len > 0', '-T', 'fields', '-e', 'ip.src'];
  let r = await sh(argv, 120_000);
  if (r.code === 2) r = await sh(argv, 120_000);
  assert.equal(r.code, 0, `\`${argv.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  const sources = r.stdout.split('\n').map((l) => l.trim());
  const [first, joined] = [LINUX_V4, LINUX_V4_JOIN].map((a) => sources.filter((src) => src === a).length);
  assert.ok(first >= 100 && joined >= 100, `data did not flow on both subflows: ${first} frames from ${LINUX_V4}, ${joined} from ${LINUX_V4_JOIN}`);
  rmSync(s.pcap, { force: true });
  // The other cases run on one subflow.
  await must(['ip', 'netns', 'exec', site.linuxNs, 'ip', 'mptcp', 'endpoint', 'flush']);
  await must(['ip', 'netns', 'exec', site.linuxNs, 'ip', 'mptcp', 'limits', 'set', 'subflows', '0', 'add_addr_accepted', '0']);
}

describe('braid-ustack MPTCP interop with Linux', { timeout: 300_000 }, () => {
  it('is built', () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
  });

  it('over net_af_packet: mptcpize socat clients and servers, fallback both ways, 2% loss, checksums, MP_JOIN', async (t) => {
    await withNamespaces(['linux', 'stack'], 'ustack-mptcp-', async ([linuxNs, stackNs], dir) => {
      // MPTCP is per namespace: on in the one we made, whatever the host has.
      await must(['ip', 'netns', 'exec', linuxNs, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
      await vethPath(linuxNs, stackNs, 0, [`${LINUX_V4}/24`]);
      const site: Site = { linuxNs, stackNs, dir, ...makeInput(dir) };
      // The join first: adding a `subflow` endpoint makes Linux's path manager extend every MPTCP
      // connection of the namespace, lingering ones of earlier cases included.
      await echoWithJoin(t, site);
      await sinkServer(t, site);
      await echoServer(t, site);
      await sourceClient(t, site);
      await echoWithLoss(t, site);
      await echoWithChecksums(t, site);
    });
  });
});
