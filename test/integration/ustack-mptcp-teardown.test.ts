// How braid-ustack's MPTCP connections end abruptly, against Linux's kernel MPTCP over
// net_af_packet on a veth, in namespaces this test creates (RFC 8684 3.5, 3.6):
//   ustack sink server, --abort-after 4 MB  <- `mptcpize run socat` upload: our Abort sends a RST
//     carrying MP_FASTCLOSE with Linux's key (and MP_TCPRST): Linux counts MPTcpExtMPFastcloseRx and
//     MPRstRx, and socat fails with a reset
//   ustack source client -> `mptcpize run socat` server with SO_LINGER 0 that stops reading: Linux
//     closes with unread data and a zero linger, i.e. MP_FASTCLOSE (mptcp_do_fastclose): braid-ustack
//     sees the reset and counts MpFastcloseRx (Linux MPFastcloseTx rises)
// Needs the cmake build: build/ctest/native/ustack/braid-ustack.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import {
  BINARY, LINUX_V4, makeInput, mptcpDelta, mptcpExt, must, sh, STACK_V4, UstackProcess, vethPath,
  withNamespaces,
} from './ustack-harness';

/** braid-ustack in `ns` with --mptcp on us0. */
function ustack(ns: string, args: string[]): UstackProcess {
  return new UstackProcess(ns, ['--mptcp', '--vdev', 'net_af_packet0,iface=us0', '--ip', `${STACK_V4}/24`, ...args]);
}

interface Site {
  linuxNs: string;
  stackNs: string;
  dir: string;
  input: string;
}

// Aborts move MPFastcloseRx/MPRstRx (the harness's bad counters): no counter is checked to stay 0.
const NO_BAD: readonly string[] = [];

async function weAbort(t: TestContext, site: Site): Promise<void> {
  const us = ustack(site.stackNs, ['--mode', 'sink', '--port', '7611', '--abort-after', '4000000']);
  await us.ready();
  const before = await mptcpExt(site.linuxNs);
  const r = await sh(['ip', 'netns', 'exec', site.linuxNs, 'mptcpize', 'run', 'socat', '-u', `OPEN:${site.input}`,
    `TCP4:${STACK_V4}:7611`], 120_000);
  const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'we abort', NO_BAD);
  assert.notEqual(r.code, 0, 'socat finished its upload although we aborted');
  assert.match(r.stderr, /reset/i, `socat did not see a reset: ${r.stderr}`);
  assert.equal(d('MPCapableSYNACKRX'), 1, 'not an MPTCP connection');
  assert.equal(d('MPFastcloseRx'), 1, 'Linux counted no MP_FASTCLOSE');
  assert.ok(d('MPRstRx') >= 1, 'Linux counted no MP_TCPRST');
  assert.equal(await us.stop(), 0, `braid-ustack failed: ${us.stdout}${us.stderr}`);
  const line = us.lines().find((l) => l.event === 'connection');
  assert.equal(line?.error, 'aborted', us.stdout);
  assert.equal(line?.mptcp, true, us.stdout);
  assert.equal(us.counter('MpFastcloseTx'), 1, us.stdout);
  t.diagnostic(`we abort: socat "${r.stderr.trim().split('\n').pop()}", Linux MPFastcloseRx +1, MPRstRx +${d('MPRstRx')}`);
}

async function linuxAborts(t: TestContext, site: Site): Promise<void> {
  const port = 7612;
  // Reads a little, then stops reading and closes with unread data and SO_LINGER 0: Linux's
  // __mptcp_close does a fast close then.
  const server = spawn('ip', ['netns', 'exec', site.linuxNs, 'mptcpize', 'run', 'socat', '-u', '-b', '65536',
    `TCP4-LISTEN:${port},reuseaddr,linger=0`, 'SYSTEM:head -c 2000000 >/dev/null'], { stdio: 'ignore' });
  const done = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  for (let tries = 0; ; ++tries) {
    const r = await sh(['ip', 'netns', 'exec', site.linuxNs, 'ss', '-Hltn', `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim() !== '') break;
    assert.ok(tries < 200, `nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const before = await mptcpExt(site.linuxNs);
  const us = ustack(site.stackNs, ['--mode', 'source', '--connect', `${LINUX_V4}:${port}`, '--bytes', String(1 << 30)]);
  const code = await us.exited;
  await done;
  const d = mptcpDelta(before, await mptcpExt(site.linuxNs), 'Linux aborts', NO_BAD);
  assert.equal(code, 1, `the source client did not fail: ${us.stdout}${us.stderr}`);
  const result = us.lines().find((l) => l.event === 'result');
  assert.ok(result !== undefined, us.stdout);
  assert.equal(result.error, 'connection reset', JSON.stringify(result));
  assert.equal(d('MPCapableSYNRX'), 1, 'not an MPTCP connection');
  const fastclose = us.counter('MpFastcloseRx');
  const rst = us.counter('MpTcpRstRx');
  assert.ok(fastclose + rst >= 1, `braid-ustack counted neither MP_FASTCLOSE nor MP_TCPRST:\n${us.stdout}`);
  assert.equal(us.counter('MpFastcloseBadKey'), 0, us.stdout);
  t.diagnostic(`Linux aborts: Linux MPFastcloseTx +${d('MPFastcloseTx')}, MPRstTx +${d('MPRstTx')}; ` +
    `braid-ustack MpFastcloseRx=${fastclose} MpTcpRstRx=${rst}`);
}

describe('braid-ustack MPTCP teardown with Linux', { timeout: 300_000 }, () => {
  it('is built', () => {
    assert.ok(existsSync(BINARY), `${BINARY} missing: build with cmake -S . -B build/ctest && cmake --build build/ctest`);
  });

  it('MP_FASTCLOSE both ways over net_af_packet', async (t) => {
    await withNamespaces(['linux', 'stack'], 'ustack-teardown-', async ([linuxNs, stackNs], dir) => {
      await must(['ip', 'netns', 'exec', linuxNs, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
      await vethPath(linuxNs, stackNs, 0, [`${LINUX_V4}/24`]);
      const site: Site = { linuxNs, stackNs, dir, input: makeInput(dir).input };
      await weAbort(t, site);
      await linuxAborts(t, site);
    });
  });
});
