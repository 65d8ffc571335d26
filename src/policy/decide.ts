// First match wins, as a pure function: the reference for what the nftables rules do with a
// connection (tests cross-check the two) and the explanation `braid status` can give.
import { cidrContains, type RuntimePolicy } from '../config';

export interface Connection {
  family: 4 | 6;
  destination: string; // numeric address
  port: number; // destination port
  source: string; // numeric local address
  /** Owner of the connecting socket; a policy matching on uid does not match without one. */
  uid?: number;
  /** cgroupv2 path of the connecting socket ("system.slice/app.service"); likewise. */
  cgroup?: string;
}

export interface Decision {
  policy: string;
  action: RuntimePolicy['action'];
  fallback: RuntimePolicy['fallback'];
}

/** The first policy matching `conn`, or null: no policy takes it and it goes out untouched. */
export function decide(policies: readonly RuntimePolicy[], conn: Connection): Decision | null {
  const hit = policies.find((p) => matches(p, conn));
  return hit === undefined ? null : { policy: hit.name, action: hit.action, fallback: hit.fallback };
}

/** Keys are ANDed, items within a key ORed; an empty list is an absent key and matches anything. */
export function matches(policy: RuntimePolicy, conn: Connection): boolean {
  const m = policy.match;
  const any = <T>(items: readonly T[], test: (item: T) => boolean): boolean => items.length === 0 || items.some(test);
  return (
    any(m.destination, (c) => c.family === conn.family && cidrContains(c, conn.destination)) &&
    any(m.source, (c) => c.family === conn.family && cidrContains(c, conn.source)) &&
    any(m.ports, (r) => conn.port >= r.from && conn.port <= r.to) &&
    any(m.uid, (u) => u === conn.uid) &&
    any(m.cgroup, (path) => conn.cgroup !== undefined && within(conn.cgroup, path))
  );
}

/** nft's `socket cgroupv2 level N "path"`: the socket's cgroup is `path` or below it. */
function within(cgroup: string, path: string): boolean {
  const own = cgroup.replace(/^\/+/, '').split('/');
  const wanted = path.split('/');
  return wanted.length <= own.length && wanted.every((segment, i) => own[i] === segment);
}
