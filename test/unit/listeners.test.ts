// Config listeners -> native listeners, and the ports the nftables ruleset is built from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config';
import { planListeners, redirectPorts } from '../../src/dataplane/listeners';

function plan(yaml: string) {
  return planListeners(parseConfigText(yaml, 'test.yaml').runtime);
}

const TRANSPARENT = `
listeners:
  - { name: out, mode: forward, listen: "127.0.0.1:16379", upstream: "198.18.1.2:7379" }
  - { name: legacy, mode: transparent }
  - { name: in, mode: transparent-inbound, ports: [8080, 6379] }
policies:
  - { name: storage, match: { ports: [6379] }, action: mptcp, fallback: deny }
  - { name: plain, match: { ports: [80] }, action: tcp }
  - { name: blocked, match: { ports: [25] }, action: reject }
  - { name: default, action: bypass }
`;

describe('planListeners', () => {
  it('maps forward and inbound listeners one to one', () => {
    const [fwd] = plan(`listeners: [{ name: out, mode: forward, listen: "127.0.0.1:1", upstream: "[2001:2::1]:2" }]`);
    assert.equal(fwd!.spec.listenProtocol, 'tcp');
    assert.equal(fwd!.spec.targetProtocol, 'mptcp');
    assert.deepEqual(fwd!.spec.target, { host: '2001:2::1', port: 2 });
    assert.equal(fwd!.spec.originalDestination, false);
  });

  it('opens one loopback listener per family for each policy that sends traffic to braid', () => {
    const t = plan(TRANSPARENT).filter((p) => p.role.kind === 'transparent');
    assert.deepEqual(
      t.map((p) => [p.spec.policy, p.spec.listen.host, p.spec.targetProtocol, p.spec.fallback, p.spec.originalDestination]),
      [
        ['storage', '127.0.0.1', 'mptcp', 'deny', true],
        ['storage', '::1', 'mptcp', 'deny', true],
        ['plain', '127.0.0.1', 'tcp', 'allow', true],
        ['plain', '::1', 'tcp', 'allow', true],
      ],
    );
  });

  it('opens one MPTCP wildcard listener per family for each captured inbound port', () => {
    const t = plan(TRANSPARENT).filter((p) => p.role.kind === 'transparent-inbound');
    assert.deepEqual(
      t.map((p) => [p.spec.listen.host, p.spec.listenProtocol, `${p.spec.target.host}:${p.spec.target.port}`]),
      [
        ['0.0.0.0', 'mptcp', '127.0.0.1:8080'],
        ['::', 'mptcp', '127.0.0.1:8080'],
        ['0.0.0.0', 'mptcp', '127.0.0.1:6379'],
        ['::', 'mptcp', '127.0.0.1:6379'],
      ],
    );
  });

  it('gives every planned listener a distinct key, stable across identical configs', () => {
    const a = plan(TRANSPARENT).map((p) => p.key);
    assert.equal(new Set(a).size, a.length);
    assert.deepEqual(plan(TRANSPARENT).map((p) => p.key), a);
    const changed = plan(TRANSPARENT.replace('fallback: deny', 'fallback: allow')).map((p) => p.key);
    assert.equal(changed.filter((k) => !a.includes(k)).length, 2, 'only the storage pair changes');
  });
});

describe('redirectPorts', () => {
  it('collects the bound port of each policy and inbound port by family', () => {
    const planned = plan(TRANSPARENT);
    const open = planned.map((p, i) => ({ id: i + 1, port: 40000 + i, planned: p }));
    const { outboundPorts, inbound } = redirectPorts(open);
    assert.deepEqual(outboundPorts.get('storage'), { v4: 40001, v6: 40002 });
    assert.deepEqual(outboundPorts.get('plain'), { v4: 40003, v6: 40004 });
    assert.equal(outboundPorts.has('blocked'), false);
    assert.deepEqual(inbound, [
      { port: 8080, v4: 40005, v6: 40006 },
      { port: 6379, v4: 40007, v6: 40008 },
    ]);
  });
});
