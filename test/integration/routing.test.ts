// TPROXY policy routing made by braid over rtnetlink, checked by iproute2 and by traffic.
// Two namespaces of our own: "router" (where braid runs) and "pod" (an application whose
// default route goes through the router). The router's nft rule TPROXYs every TCP packet to an
// IP_TRANSPARENT listener and marks it; only the fwmark rule + local route make the kernel
// deliver those packets (addressed to 198.18.77.77, which nobody has) to that listener.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PolicyRoutingStatus } from '../../src/redirect';
import { makePrefix } from '../../src/testbed/names';
import { deleteNetns, killNetnsProcesses } from '../../src/testbed/netns';

const FIXTURE = path.resolve(__dirname, '../fixtures/policy-routing.js');
const MARK = 0x6275;
const TABLE = 0x6275; // 25205: above 255, so the u32 table attribute is what counts
const PORT = 15001;
const NOBODY = '198.18.77.77'; // the destination the pod dials; no interface anywhere has it

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[]): Run {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(argv: string[]): string {
  const r = run(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

// An IP_TRANSPARENT (SOL_IP, 19) listener that tells each client the address it accepted on.
const LISTENER = `
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_IP, 19, 1)
s.bind(("0.0.0.0", ${PORT}))
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(("tproxy %s:%d\\n" % c.getsockname()).encode())
    c.close()
`;

describe('TPROXY policy routing over rtnetlink', () => {
  const prefix = makePrefix();
  const router = `${prefix}-n0`;
  const pod = `${prefix}-n1`;
  const names = [router, pod];

  const inRouter = (...argv: string[]) => ['ip', 'netns', 'exec', router, ...argv];
  const routing = (action: string, mark = MARK, table = TABLE): Run =>
    run(inRouter(process.execPath, FIXTURE, action, String(mark), String(table)));
  const status = (r: Run): PolicyRoutingStatus => {
    assert.equal(r.code, 0, `fixture failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as PolicyRoutingStatus;
  };
  const rules = (v: 4 | 6) => must(['ip', `-${v}`, '-n', router, 'rule', 'show']);
  const routes = (v: 4 | 6) => must(['ip', `-${v}`, '-n', router, 'route', 'show', 'table', String(TABLE)]);
  const ruleText = `fwmark 0x${MARK.toString(16)} lookup ${TABLE}`;

  /** The pod dials NOBODY:80; returns what answered, or the failure. */
  function dial(): { answered: string | null; error: string } {
    const r = run(['ip', 'netns', 'exec', pod, 'socat', '-u', `TCP4:${NOBODY}:80,connect-timeout=3`, 'STDOUT']);
    return r.code === 0 ? { answered: r.stdout.trim(), error: '' } : { answered: null, error: r.stderr.trim() };
  }

  before(async () => {
    for (const ns of names) must(['ip', 'netns', 'add', ns]);
    must(['ip', '-n', router, 'link', 'set', 'lo', 'up']);
    must(['ip', '-n', pod, 'link', 'set', 'lo', 'up']);
    must(['ip', '-n', router, 'link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'pod0', 'netns', pod]);
    must(['ip', '-n', router, 'addr', 'add', '198.18.76.1/24', 'dev', 'rt0']);
    must(['ip', '-n', pod, 'addr', 'add', '198.18.76.2/24', 'dev', 'pod0']);
    must(['ip', '-n', router, 'link', 'set', 'rt0', 'up']);
    must(['ip', '-n', pod, 'link', 'set', 'pod0', 'up']);
    must(['ip', '-n', pod, 'route', 'add', 'default', 'via', '198.18.76.1']);
    const nft = spawnSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], {
      input: `table inet t {\n  chain p {\n    type filter hook prerouting priority mangle;\n    meta l4proto tcp tproxy ip to :${PORT} meta mark set ${MARK} accept\n  }\n}\n`,
      encoding: 'utf8',
    });
    assert.equal(nft.status, 0, `nft: ${nft.stderr}`);
    const listener = spawn('ip', ['netns', 'exec', router, 'python3', '-c', LISTENER], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    listener.stderr.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      listener.stdout.once('data', () => resolve());
      listener.once('exit', (code) => reject(new Error(`listener exited ${code}: ${err}`)));
    });
    listener.unref();
  });

  after(async () => {
    await killNetnsProcesses(names, 2000);
    await deleteNetns(names);
  });

  it('without the policy routing the pod cannot reach the listener', () => {
    const r = dial();
    assert.equal(r.answered, null, `answered: ${r.answered}`);
  });

  it('install adds the rule and the local route for both families', () => {
    const st = status(routing('install'));
    assert.deepEqual(
      st.rules.map((r) => ({ family: r.family, mark: r.mark, table: r.table })),
      [
        { family: 4, mark: MARK, table: TABLE },
        { family: 6, mark: MARK, table: TABLE },
      ],
    );
    assert.deepEqual(st.routes, [
      { family: 4, table: TABLE, type: 'local', dst: '0.0.0.0/0', dev: 'lo' },
      { family: 6, table: TABLE, type: 'local', dst: '::/0', dev: 'lo' },
    ]);
    assert.match(rules(4), new RegExp(`^${st.rules[0]!.priority}:\\s+from all ${ruleText} proto 178\\s*$`, 'm'));
    assert.match(rules(6), new RegExp(`${ruleText}`));
    assert.match(routes(4), /^local default dev lo proto 178 scope host\s*$/m);
    assert.match(routes(6), /^local default dev lo proto 178 metric 1024 pref medium\s*$/m);
  });

  it('with it, a connection to an address nobody has reaches the IP_TRANSPARENT listener', () => {
    const r = dial();
    assert.equal(r.answered, `tproxy ${NOBODY}:80`, r.error);
  });

  it('install again leaves exactly one rule per family and one route each', () => {
    const st = status(routing('install'));
    assert.equal(st.rules.length, 2);
    assert.equal(st.routes.length, 2);
    assert.equal(rules(4).split(ruleText).length - 1, 1);
    assert.equal(rules(6).split(ruleText).length - 1, 1);
    assert.equal(dial().answered, `tproxy ${NOBODY}:80`);
  });

  it('remove takes rule and route away, and the listener is unreachable again', () => {
    const st = status(routing('remove'));
    assert.deepEqual(st, { rules: [], routes: [] });
    assert.doesNotMatch(rules(4), new RegExp(ruleText));
    assert.doesNotMatch(rules(6), new RegExp(ruleText));
    assert.equal(routes(4).trim(), '');
    assert.equal(routes(6).trim(), '');
    const r = dial();
    assert.equal(r.answered, null, `answered: ${r.answered}`);
  });

  it('remove when nothing is installed succeeds', () => {
    assert.deepEqual(status(routing('remove')), { rules: [], routes: [] });
  });

  it('a kernel refusal is a BRAID_NETLINK error with errno and the message type', () => {
    // Without CAP_NET_ADMIN the dumps work and the first change is refused.
    const r = run(
      inRouter('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, FIXTURE, 'install', String(MARK), String(TABLE)),
    );
    assert.equal(r.code, 1, r.stdout);
    const e = JSON.parse(r.stderr) as { name: string; code: string; errno: number; message: string };
    assert.equal(e.name, 'BraidError');
    assert.equal(e.code, 'BRAID_NETLINK');
    assert.equal(e.errno, 1); // EPERM
    assert.match(e.message, /^installing TPROXY policy routing \(fwmark 0x6275 table 25205\): RTM_NEWROUTE failed: Operation not permitted/);
    assert.deepEqual(status(routing('status')), { rules: [], routes: [] });
  });

  it('the system tables are refused before any netlink request', () => {
    const r = routing('remove', MARK, 254);
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stderr) as { name: string; code: string };
    assert.equal(e.name, 'RangeError');
    assert.equal(e.code, 'ERR_OUT_OF_RANGE');
  });
});
