// Relay workers grouped per NUMA node: worker i is pinned to every CPU of one node, the nodes
// taking workers in proportion to their CPUs. A connection then moves to a worker of its
// application's node (see src/steering/steering.ts).
import type { NumaTopology } from './sysfs';

export interface WorkerPlacement {
  /** CPUs each worker is pinned to; [] leaves a worker unpinned. */
  cpus: number[][];
  /** The node of each worker; undefined when unpinned. */
  nodes: (number | undefined)[];
}

export function placeWorkers(topology: NumaTopology, workers: number): WorkerPlacement {
  const nodes = topology.nodes.filter((n) => n.cpus.length > 0);
  // One node: pinning to all of it would only keep the kernel from doing its job.
  if (nodes.length <= 1) return { cpus: Array.from({ length: workers }, () => []), nodes: Array.from({ length: workers }, () => undefined) };
  // Worker i takes the node of the i-th CPU in node order, wrapping: proportional, and each node
  // gets one before any gets a second.
  const slots = nodes.flatMap((n) => n.cpus.map(() => n));
  const interleaved: typeof slots = [];
  const queues = nodes.map((n) => slots.filter((s) => s === n));
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) interleaved.push(q.shift()!);
  const placement: WorkerPlacement = { cpus: [], nodes: [] };
  for (let i = 0; i < workers; i++) {
    const node = interleaved[i % interleaved.length]!;
    placement.cpus.push([...node.cpus]);
    placement.nodes.push(node.id);
  }
  return placement;
}
