// NUMA topology from sysfs: nodes and their CPUs (<root>/devices/system/node/node<N>/cpulist) and
// the node of a NIC (<root>/class/net/<interface>/device/numa_node). The root is configurable so
// a test can describe a machine that is not this one.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseCpuList } from './cpulist';

export interface NumaNode {
  id: number;
  cpus: number[];
}

export interface NumaTopology {
  /** Ascending by id; one node 0 with every CPU on a machine without NUMA information. */
  nodes: NumaNode[];
  /** Where the topology came from, for logs. */
  source: string;
}

export function readTopology(sysfsRoot: string): NumaTopology {
  const nodeDir = path.join(sysfsRoot, 'devices/system/node');
  let entries: string[] = [];
  try {
    entries = readdirSync(nodeDir);
  } catch {
    // no NUMA support compiled in, or a root that does not describe nodes
  }
  const nodes: NumaNode[] = [];
  for (const name of entries) {
    const m = /^node(\d+)$/.exec(name);
    if (m === null) continue;
    const cpus = readCpuList(path.join(nodeDir, name, 'cpulist'));
    if (cpus !== undefined) nodes.push({ id: Number(m[1]), cpus });
  }
  if (nodes.length > 0) {
    nodes.sort((a, b) => a.id - b.id);
    return { nodes, source: nodeDir };
  }
  const online = readCpuList(path.join(sysfsRoot, 'devices/system/cpu/online'));
  const cpus = online ?? [...Array(availableParallelism()).keys()];
  return { nodes: [{ id: 0, cpus }], source: online !== undefined ? path.join(sysfsRoot, 'devices/system/cpu/online') : 'os' };
}

/** The NUMA node sysfs gives for a NIC; undefined for virtual NICs (no device) or -1 ("unknown"). */
export function nicNumaNode(sysfsRoot: string, iface: string): number | undefined {
  if (iface.includes('/') || iface === '.' || iface === '..') return undefined;
  try {
    const n = Number(readFileSync(path.join(sysfsRoot, 'class/net', iface, 'device/numa_node'), 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The node of a CPU, undefined when the topology does not list it. */
export function nodeOfCpu(topology: NumaTopology, cpu: number): number | undefined {
  return topology.nodes.find((n) => n.cpus.includes(cpu))?.id;
}

function readCpuList(file: string): number[] | undefined {
  try {
    return parseCpuList(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
