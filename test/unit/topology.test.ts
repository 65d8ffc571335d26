import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { applicationNode } from '../../src/topology/app-node';
import { parseCpuList } from '../../src/topology/cpulist';
import { nicNumaNode, nodeOfCpu, readTopology } from '../../src/topology/sysfs';

/** Writes a sysfs tree describing a machine: node CPU lists and NIC nodes. */
export function fakeSysfs(nodes: Record<number, string>, nics: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'braid-sysfs-'));
  for (const [id, cpus] of Object.entries(nodes)) {
    mkdirSync(path.join(root, 'devices/system/node', `node${id}`), { recursive: true });
    writeFileSync(path.join(root, 'devices/system/node', `node${id}`, 'cpulist'), `${cpus}\n`);
  }
  writeFileSync(path.join(root, 'devices/system/node/possible'), '0-1\n', { flag: 'w' });
  for (const [nic, node] of Object.entries(nics)) {
    mkdirSync(path.join(root, 'class/net', nic, 'device'), { recursive: true });
    writeFileSync(path.join(root, 'class/net', nic, 'device/numa_node'), `${node}\n`);
  }
  return root;
}

describe('topology', () => {
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

  it('parses kernel CPU lists', () => {
    assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList(''), []);
    assert.equal(parseCpuList('3-1'), undefined);
    assert.equal(parseCpuList('a'), undefined);
  });

  it('reads a described two-socket machine and its NICs', () => {
    const root = fakeSysfs({ 0: '0,2', 1: '1,3' }, { eth0: '0', eth1: '1', veth9: '-1' });
    roots.push(root);
    const topo = readTopology(root);
    assert.deepEqual(topo.nodes, [
      { id: 0, cpus: [0, 2] },
      { id: 1, cpus: [1, 3] },
    ]);
    assert.equal(nodeOfCpu(topo, 3), 1);
    assert.equal(nicNumaNode(root, 'eth1'), 1);
    assert.equal(nicNumaNode(root, 'veth9'), undefined, '-1 means unknown');
    assert.equal(nicNumaNode(root, 'nope'), undefined);
    assert.equal(nicNumaNode(root, '../x'), undefined);
  });

  it('falls back to one node with the online CPUs', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'braid-sysfs-'));
    roots.push(root);
    mkdirSync(path.join(root, 'devices/system/cpu'), { recursive: true });
    writeFileSync(path.join(root, 'devices/system/cpu/online'), '0-5\n');
    assert.deepEqual(readTopology(root).nodes, [{ id: 0, cpus: [0, 1, 2, 3, 4, 5] }]);
  });

  it('places an application by its affinity, else by the CPU it last ran on', () => {
    const topo = { nodes: [{ id: 0, cpus: [0, 2] }, { id: 1, cpus: [1, 3] }], source: 'test' };
    assert.equal(applicationNode({ allowed: [1], last: 0 }, topo), 1, 'pinned wins over last CPU');
    assert.equal(applicationNode({ allowed: [1, 3], last: 3 }, topo), 1);
    assert.equal(applicationNode({ allowed: [0, 1, 2, 3], last: 2 }, topo), 0);
    assert.equal(applicationNode({ allowed: [0, 1], last: -1 }, topo), undefined);
  });
});
