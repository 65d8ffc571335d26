// `braid demo`: two nodes, two shaped paths, braid on both, an unmodified iperf3 through it.
// Shows per-path throughput each second, that MPTCP was negotiated, and a path failing
// mid-transfer without the transfer noticing. Removes everything it made.
import { BraidNode, pathsFor } from '../demo/braid-node';
import { Testbed, waitForPort } from '../testbed';

const SERVER_PORT = 5201; // where braid inbound listens on the server node
const IPERF_PORT = 5202; // the real iperf3 server, loopback only
const CLIENT_PORT = 15201; // braid forward listener on the client node

function mbit(bytes: number, seconds: number): string {
  return ((bytes * 8) / seconds / 1e6).toFixed(1).padStart(7);
}

export async function demoCommand(opts: { seconds: number; rate: string }): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('braid demo builds network namespaces: run it as root');
  const seconds = Math.max(6, Math.floor(opts.seconds));
  const say = (line = ''): void => void process.stdout.write(`${line}\n`);
  say(`braid demo: 2 nodes, 2 paths shaped to ${opts.rate} each, iperf3 for ${seconds}s through braid`);

  const bed = await Testbed.create({ nodes: 2, paths: 2, rate: opts.rate });
  const nodes: BraidNode[] = [];
  try {
    const server = new BraidNode(bed, 1, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [{ name: 'iperf-in', mode: 'inbound', listen: `0.0.0.0:${SERVER_PORT}`, target: `127.0.0.1:${IPERF_PORT}` }],
        log: { level: 'warn' },
      },
    });
    const client = new BraidNode(bed, 0, {
      config: {
        paths: pathsFor(bed, 2),
        listeners: [
          { name: 'iperf-out', mode: 'forward', listen: `127.0.0.1:${CLIENT_PORT}`, upstream: `${bed.address(1, 0)}:${SERVER_PORT}` },
        ],
        log: { level: 'warn' },
      },
    });
    nodes.push(server, client);
    await server.start();
    await client.start();
    say(`node ${bed.nodeName(0)}: iperf3 -c 127.0.0.1:${CLIENT_PORT} -> braid forward -> MPTCP to ${bed.address(1, 0)}:${SERVER_PORT}`);
    say(`node ${bed.nodeName(1)}: braid inbound :${SERVER_PORT} -> iperf3 -s on 127.0.0.1:${IPERF_PORT}`);

    bed.spawn(1, ['iperf3', '-s', '-1', '-B', '127.0.0.1', '-p', String(IPERF_PORT)]);
    await waitForPort(bed, 1, IPERF_PORT);
    const iperf = bed.exec(0, ['iperf3', '-c', '127.0.0.1', '-p', String(CLIENT_PORT), '-t', String(seconds), '-J'], {
      timeoutMs: (seconds + 30) * 1000,
    });

    const downAt = Math.floor(seconds / 2);
    say();
    say('  t(s)   nic0 Mbit/s   nic1 Mbit/s   total Mbit/s');
    let last = await Promise.all([bed.counters(0, 0), bed.counters(0, 1)]);
    let shown = false;
    for (let t = 1; t <= seconds; t++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await Promise.all([bed.counters(0, 0), bed.counters(0, 1)]);
      const d0 = now[0].txBytes - last[0].txBytes;
      const d1 = now[1].txBytes - last[1].txBytes;
      last = now;
      say(`  ${String(t).padStart(4)}   ${mbit(d0, 1)}       ${mbit(d1, 1)}       ${mbit(d0 + d1, 1)}`);
      if (!shown && t >= 2) {
        shown = true;
        const conns = (await client.connections()).filter((c) => c.bytesUp > 1_000_000);
        for (const c of conns) {
          say(`         connection ${c.id}: ${c.outcome === 'mptcp' ? 'MPTCP negotiated' : `NOT MPTCP (${c.outcome})`}, subflows:`);
          for (const s of c.subflows) say(`           ${s.path ?? '?'}  ${s.local} -> ${s.remote}`);
        }
      }
      if (t === downAt) {
        await bed.setLink(0, 0, false);
        say(`         >>> path nic0 (${bed.iface(0)}) taken down on the client node`);
      }
    }
    const result = await iperf;
    say();
    if (result.code !== 0) {
      say(`transfer FAILED: iperf3 exited ${result.code}: ${result.stderr || result.stdout.slice(0, 400)}`);
      process.exitCode = 1;
    } else {
      const report = JSON.parse(result.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
      const mib = (report.end.sum_received.bytes / 2 ** 20).toFixed(0);
      say(`transfer survived the path failure: ${mib} MiB received, ${(report.end.sum_received.bits_per_second / 1e6).toFixed(1)} Mbit/s average`);
    }
    const closes = await client.get('/metrics');
    const mptcp = /braid_connections_total\{listener="iperf-out",outcome="mptcp"\} (\d+)/.exec(closes)?.[1] ?? '0';
    say(`braid counted ${mptcp} MPTCP connection(s) on the client node (iperf3 opens a control and a data connection)`);
  } finally {
    for (const n of nodes) {
      const code = await n.stop();
      if (code !== 0) say(`braid on ${bed.nodeName(n.node)} exited ${code}; its log: ${n.logFile}`);
      else n.removeFiles();
    }
    await bed.destroy();
    say('cleaned up: braid stopped (its kernel endpoints removed), namespaces deleted');
  }
}

