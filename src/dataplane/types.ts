// Shapes that cross the JS/native boundary. Native code fills plain structs on its
// worker threads; the addon converts them to these objects on the JS thread.

export type ListenerMode = 'forward' | 'inbound';
export type SocketProtocol = 'tcp' | 'mptcp';

export interface SocketAddress {
  host: string; // numeric IPv4 or IPv6, no brackets
  port: number;
}

export interface NativeListenerSpec {
  id: number;
  name: string;
  mode: ListenerMode;
  listen: SocketAddress;
  listenProtocol: SocketProtocol;
  target: SocketAddress;
  targetProtocol: SocketProtocol;
  backlog: number;
  /** Dial where nftables redirected the client from (SO_ORIGINAL_DST) instead of `target`. */
  originalDestination: boolean;
  /** With originalDestination: take TPROXY'd connections (IP_TRANSPARENT); their destination is their local address. */
  tproxy: boolean;
  /** deny: reset the client when the MPTCP side fell back to plain TCP. */
  fallback: 'allow' | 'deny';
  /** Policy name carried into events and snapshots; '' when none. */
  policy: string;
}

/** One flat object handed to the native constructor; C++ copies it into plain structs. */
export interface NativeDataplaneSpec {
  workers: number;
  maxConnections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number; // 0 disables
  pipeSize: number; // bytes per relay pipe
  subflowPollMs: number; // how often a worker refreshes subflow stats of MPTCP connections
  upstreamMark: number; // SO_MARK on dialled sockets, 0 = none
  listeners: NativeListenerSpec[];
  /**
   * workerCpus[i]: the CPUs worker i pins its thread to at start (its NUMA node's). Absent, empty
   * or missing entries: unpinned. A pin the kernel refuses (CPU offline, not allowed) leaves that
   * worker running unpinned; see `pinErrno` in DataplaneSnapshot.workers.
   */
  workerCpus?: number[][];
}

/** mptcp: MPTCP negotiated; fallback: MPTCP socket fell back to TCP; tcp: no MPTCP socket involved. */
export type Outcome = 'mptcp' | 'fallback' | 'tcp' | 'error';

export type CloseReason =
  | 'done' // both directions finished cleanly
  | 'reset' // one side reset or failed; the other was reset
  | 'connect-error'
  | 'connect-timeout'
  | 'idle-timeout'
  | 'refused' // max connections reached
  | 'aborted' // closed by braid (drain timeout, shutdown)
  | 'fallback-denied'; // the peer could not do MPTCP and the policy says fallback: deny

export interface SubflowInfo {
  id: number;
  local: string; // "198.18.1.1:40000" or "[2001:2::1]:40000"
  remote: string;
  bytesSent: number;
  bytesReceived: number;
  rttUs: number;
  backup: boolean;
  closed: boolean; // seen earlier, gone now
}

export interface ConnOpenEvent {
  type: 'open';
  id: number;
  listener: string;
  policy: string;
  worker: number;
  client: string;
}

export interface ConnEstablishedEvent {
  type: 'established';
  id: number;
  listener: string;
  policy: string;
  upstream: string;
  outcome: Outcome;
  connectUs: number;
}

export interface ConnCloseEvent {
  type: 'close';
  id: number;
  listener: string;
  policy: string;
  worker: number;
  client: string;
  upstream: string;
  outcome: Outcome;
  reason: CloseReason;
  errno: number; // 0 unless reason names a failure
  durationMs: number;
  bytesUp: number; // client -> upstream
  bytesDown: number; // upstream -> client
  subflows: SubflowInfo[];
}

export interface SubflowEvent {
  type: 'subflow';
  id: number;
  listener: string;
  policy: string;
  action: 'added' | 'removed';
  subflow: SubflowInfo;
}

export type DataplaneEvent = ConnOpenEvent | ConnEstablishedEvent | ConnCloseEvent | SubflowEvent;

export interface ConnectionSnapshot {
  id: number;
  listener: string;
  policy: string;
  worker: number;
  state: 'connecting' | 'relaying' | 'half-closed';
  client: string;
  upstream: string;
  outcome: Outcome;
  ageMs: number;
  bytesUp: number;
  bytesDown: number;
  subflows: SubflowInfo[];
  // The fields below are always filled by the addon where they apply; optional so that
  // snapshots built by hand (fixtures) stay valid.
  /** MPTCP connection token of the network-side socket (as the path manager names it); absent when not MPTCP. */
  token?: number;
  /**
   * The socket facing the local application (forward: the accepted client; inbound: the socket
   * braid dialled to the local target): its own address, "ip:port". Absent while unknown
   * (an inbound connection still connecting).
   */
  appLocal?: string;
  /** That socket's peer, i.e. the application's address, "ip:port". */
  appRemote?: string;
  /** Times this connection moved to another worker (moveConnection). */
  migrations?: number;
}

/** One data-plane worker thread. */
export interface WorkerInfo {
  index: number;
  /** Kernel thread id (/proc/<pid>/task/<tid>). */
  tid: number;
  /** The thread's CPU affinity now. */
  cpus: number[];
  /** errno of a refused workerCpus pin (the worker runs unpinned); 0 when pinned as asked or not asked. */
  pinErrno: number;
}

export interface AddressBytes {
  address: string; // local subflow address, no port
  sent: number; // monotonic since start
  received: number;
}

export interface DataplaneSnapshot {
  connections: ConnectionSnapshot[];
  addressBytes: AddressBytes[];
  accepted: number;
  refused: number;
  active: number;
  /** Connection moves between workers since start. */
  migrations?: number;
  workers?: WorkerInfo[];
}

export interface NativeDataplane {
  /** Actual bound address of each listener (port 0 resolved). */
  listenerAddresses(): { id: number; host: string; port: number }[];
  /** Bind and start more listeners (all or none: throws BRAID_BIND); their bound addresses. */
  addListeners(listeners: NativeListenerSpec[]): { id: number; host: string; port: number }[];
  /** Close these listeners; their open connections go on. */
  removeListeners(ids: number[]): void;
  /** Abort the open connections of one listener. */
  abortConnections(listenerId: number): void;
  /** Change limits and timeouts while running (a reload); open connections get the new timeouts. */
  setLimits(limits: { maxConnections: number; connectTimeoutMs: number; idleTimeoutMs: number }): void;
  /** Close every listener; open connections go on. */
  stopAccepting(): void;
  /** Open connections, of one listener (removed ones included) or of all. */
  activeConnections(listenerId?: number): number;
  /**
   * Move an open connection (sockets, bytes in flight, timers) to another worker, e.g. the one
   * pinned to its application's NUMA node. Returns once the move is queued; the connection keeps
   * relaying and the snapshot's `worker` shows the new owner when done. false: no such open
   * connection, or no such worker; true and nothing to do when it is there already. With several
   * requests for one connection, the latest decides.
   */
  moveConnection(id: number, worker: number): boolean;
  snapshot(): DataplaneSnapshot;
  /** Abort what is left, join the workers, release the event callback. Idempotent. */
  close(): void;
}

export type EndpointFlag = 'signal' | 'subflow' | 'backup' | 'fullmesh';

export interface PmEndpoint {
  id: number;
  address: string;
  port: number; // 0 = none
  flags: EndpointFlag[];
  ifindex: number; // 0 = not bound
}

export interface PmLimits {
  subflows: number;
  addAddrAccepted: number;
}

/** Kernel MPTCP path manager of the calling thread's network namespace (generic netlink "mptcp_pm"). */
export interface NativePathManager {
  listEndpoints(): PmEndpoint[];
  addEndpoint(endpoint: PmEndpoint): void;
  deleteEndpoint(id: number): void;
  setEndpointFlags(id: number, flags: EndpointFlag[]): void;
  getLimits(): PmLimits;
  setLimits(limits: PmLimits): void;
  close(): void;
}

/** Errors thrown by the addon carry a stable code and the errno; never parse the message. */
export interface NativeError extends Error {
  code: string; // e.g. 'BRAID_BIND', 'BRAID_NETLINK'
  errno?: number;
  syscall?: string;
  address?: string;
}

// Policy routing for TPROXY (native/addon/policy_routing_wrap.cc), wrapped by src/redirect/routing.ts.

export interface PolicyRoutingKey {
  /** fwmark the nft tproxy rule sets (`meta mark set MARK`); 1..2^32-1. */
  mark: number;
  /** Routing table braid owns; 1..2^32-1 except 253, 254, 255. remove() empties it. */
  table: number;
}

export interface PolicyRoutingInstall extends PolicyRoutingKey {
  /** Rule preference; default: the kernel's choice, just before the main table's rule (32766). */
  priority?: number;
}

export interface PolicyRule {
  family: 4 | 6;
  mark: number;
  table: number;
  priority: number;
}

export interface PolicyRoute {
  family: 4 | 6;
  table: number;
  /** rtm_type as `ip route` spells it; braid's own route is 'local'. */
  type: 'local' | 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | (string & {});
  /** '0.0.0.0/0' or '::/0' for braid's route. */
  dst: string;
  /** Output device name ('lo' for braid's route); '' when the route has none. */
  dev: string;
}

export interface PolicyRoutingStatus {
  /** Rules with exactly this fwmark and table (any mask), both families. */
  rules: PolicyRule[];
  /** Every route in the table, both families. */
  routes: PolicyRoute[];
}

/** The addon's `PolicyRouting` class (native/addon/policy_routing_wrap.cc). */
export interface NativePolicyRouting {
  install(options: PolicyRoutingInstall): void;
  remove(key: PolicyRoutingKey): void;
  status(key: PolicyRoutingKey): PolicyRoutingStatus;
  close(): void;
}

// --- The userspace path manager (native/kernel/userspace_pm.h) -------------------------------

export interface UserspacePmPath {
  id: number; // 1..255: the MPTCP address id of the path's address on every connection
  name: string;
  ifindex: number;
  addresses: string[]; // numeric, no brackets
  signal: boolean;
  subflow: boolean;
  backup: boolean;
}

export interface UserspacePmSubflow {
  path: number; // 0: on no configured path
  local: string; // "ip:port" / "[ip6]:port"
  remote: string;
  backup: boolean;
}

export interface UserspacePmConnection {
  token: number;
  serverSide: boolean;
  subflows: UserspacePmSubflow[];
  /** Paths the connection's preference makes active now; empty without a preference. */
  activePaths: number[];
}

export interface UserspacePmCounters {
  events: number;
  subflowsCreated: number;
  subflowCreateErrors: number;
  subflowsRecreated: number;
  subflowsDestroyed: number;
  announces: number;
  announceErrors: number;
  prioChanges: number;
  prioErrors: number;
  eventOverruns: number;
}

export interface UserspacePmSnapshot {
  paths: { id: number; name: string; up: boolean }[];
  connections: UserspacePmConnection[];
  counters: UserspacePmCounters;
}

export interface NativeUserspacePathManager {
  /** Tiers of path ids, most wanted first; [] drops the preference. */
  setPreference(token: number, tiers: number[][]): void;
  /** null once closed. */
  snapshot(): UserspacePmSnapshot | null;
  close(): void;
}

/** Who holds a socket: from findSocketOwner(); pid 0 when no process does. */
export interface SocketOwner {
  inode: number;
  pid: number;
}

export interface NativeProcessCpus {
  allowed: number[];
  last: number;
}
