// The schedulers, decided purely: which paths a connection's data should arrive on, as tiers of
// path ids for the userspace path manager (first tier with a usable path is active, every other
// subflow is flagged backup). No tiers: leave the kernel's choice alone.
import type { Scheduler } from '../config';

export interface SchedulerPath {
  id: number; // the path manager's id of the path
  name: string;
  node: number | undefined; // NUMA node of its NIC
}

export interface SchedulerInput {
  scheduler: Scheduler;
  paths: SchedulerPath[];
  /** numa-local: the node of the local application end; undefined when unknown. */
  appNode?: number | undefined;
  /** backup-ordered: path names in order of preference; empty: the order of `paths`. */
  order?: string[];
}

export function preferenceTiers(input: SchedulerInput): number[][] | undefined {
  switch (input.scheduler) {
    case 'default':
      return undefined;
    case 'numa-local': {
      if (input.appNode === undefined) return undefined;
      const local = input.paths.filter((p) => p.node === input.appNode).map((p) => p.id);
      // No NIC on the application's node: nothing to prefer.
      if (local.length === 0) return undefined;
      const others = input.paths.filter((p) => p.node !== input.appNode).map((p) => p.id);
      return others.length > 0 ? [local, others] : [local];
    }
    case 'backup-ordered': {
      const order = input.order !== undefined && input.order.length > 0 ? input.order : input.paths.map((p) => p.name);
      const tiers = order.flatMap((name) => {
        const p = input.paths.find((q) => q.name === name);
        return p === undefined ? [] : [[p.id]];
      });
      // Paths left out of the order come last, together.
      const rest = input.paths.filter((p) => !order.includes(p.name)).map((p) => p.id);
      if (rest.length > 0) tiers.push(rest);
      return tiers.length > 0 ? tiers : undefined;
    }
  }
}
