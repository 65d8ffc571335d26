// Which NUMA node an application runs on, from where the kernel lets it run and where it ran last.
//
// Method (cheap enough per connection): braid finds the process that owns the other end of its
// local socket (one sock_diag lookup by four-tuple, then the socket's inode among /proc/<pid>/fd,
// the last owner's pid tried first) and reads its CPU affinity (sched_getaffinity) and the CPU it
// last ran on (/proc/<pid>/stat). A process confined to one node's CPUs (taskset, cpuset,
// Kubernetes' static CPU manager) is on that node. One allowed on several nodes is placed where
// it last ran: the scheduler keeps a busy process near its memory, so that is where its data goes.
import { nodeOfCpu, type NumaTopology } from './sysfs';

export interface ProcessCpus {
  allowed: number[];
  last: number;
}

export function applicationNode(cpus: ProcessCpus, topology: NumaTopology): number | undefined {
  const nodes = new Set<number>();
  for (const cpu of cpus.allowed) {
    const node = nodeOfCpu(topology, cpu);
    if (node !== undefined) nodes.add(node);
  }
  if (nodes.size === 1) return [...nodes][0];
  return cpus.last >= 0 ? nodeOfCpu(topology, cpus.last) : undefined;
}
