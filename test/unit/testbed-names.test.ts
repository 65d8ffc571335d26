import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hubBridgeName,
  hubNsName,
  hubPortName,
  makePrefix,
  nodeAddress,
  nodeNsName,
  parseNsName,
  extraNsName,
  pathIface,
} from '../../src/testbed/names';

test('a prefix encodes its pid and parses back from every namespace name of the bed', () => {
  for (const pid of [1, 35, 36, 4242, 130011, 4194304]) {
    const prefix = makePrefix(pid);
    for (const name of [nodeNsName(prefix, 0), nodeNsName(prefix, 249), hubNsName(prefix), extraNsName(prefix, 'pod')]) {
      assert.deepEqual(parseNsName(name), { prefix, pid }, name);
    }
  }
});

test('names that are not test-bed namespaces are not parsed', () => {
  for (const name of ['bd-n0', 'bdx-n0', 'bd12-x0', 'xbd123-n0', 'bd1234-n0-extra', 'bd1234-xpod9', 'bd1234-x', 'BD1234-n0', 'cni-1234', 'bd1234-n']) {
    assert.equal(parseNsName(name), undefined, name);
  }
});

test('interface names fit IFNAMSIZ (15 chars) at the largest bed', () => {
  for (const name of [pathIface(249), hubPortName(249, 249), hubBridgeName(249)]) {
    assert.ok(name.length <= 15, name);
  }
});

test('addresses follow the RFC 5180 plan: 198.18.(p+1).(i+1) and 2001:2:0:(p+1)::(i+1)', () => {
  assert.equal(nodeAddress(0, 0, 4), '198.18.1.1');
  assert.equal(nodeAddress(1, 1, 4), '198.18.2.2');
  assert.equal(nodeAddress(0, 0, 6), '2001:2:0:1::1');
  assert.equal(nodeAddress(1, 1, 6), '2001:2:0:2::2');
  assert.equal(nodeAddress(9, 15, 6), '2001:2:0:10::a'); // hex groups
});
