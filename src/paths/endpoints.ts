// EndpointOwner: the kernel MPTCP endpoints and limits braid sets up for its configured
// paths in its own network namespace, and takes away again, exactly, when it stops.
//
// Every change is recorded in the state file (./state.ts) before it is made. start() first
// cleans up after a braid that died in this namespace without release(); release() is
// synchronous, idempotent and retryable, so it can run from signal handlers and
// process.on('exit').
import { readFileSync, writeFileSync } from 'node:fs';
import { BraidError } from '../errors';
import type { EndpointFlag, NativePathManager, PmEndpoint, PmLimits } from '../dataplane/types';
import { canonicalAddress } from './address';
import { resolveInterface as defaultResolveInterface, type InterfaceResolver, type ResolvedInterface } from './interfaces';
import { netlinkError, openPathManager } from './native';
import {
  DEFAULT_STATE_DIR,
  freshState,
  netnsInode,
  ownerAlive,
  StateFile,
  stateFilePath,
  type OwnerState,
  type StateEndpoint,
} from './state';

export interface PathSpec {
  name: string;
  interface: string;
  backup: boolean;
  signal: boolean;
  subflow: boolean;
}

export type OwnedEndpoint = Readonly<StateEndpoint>;

/** An address of a configured path left alone because an endpoint braid does not own has it. */
export interface ForeignEndpoint {
  path: string;
  address: string;
  id: number;
  flags: EndpointFlag[];
}

export type OwnerLog = (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;

export interface EndpointOwnerOptions {
  paths: readonly PathSpec[];
  limits: PmLimits;
  /** Root of the state files; default /run/braid. */
  stateDir?: string;
  log?: OwnerLog;
  /** Default: the addon's PathManager, opened (and later closed) by the owner. */
  pathManager?: NativePathManager;
  /** Default: /sys/class/net + os.networkInterfaces(). */
  resolveInterface?: InterfaceResolver;
  /** Default: inode of /proc/self/ns/net. */
  netns?: number;
  /** userspace: set net.mptcp.path_manager=userspace while braid runs (restored on release). Default kernel. */
  pathManagerType?: 'kernel' | 'userspace';
  /** Default: /proc/sys/net/mptcp/path_manager of this netns. */
  pathManagerSysctl?: string;
}

const PATH_MANAGER_SYSCTL = '/proc/sys/net/mptcp/path_manager';

/** A path as the userspace path manager needs it: resolved interface and addresses. */
export interface ResolvedPath {
  name: string;
  interface: string;
  ifindex: number;
  addresses: string[];
  backup: boolean;
  signal: boolean;
  subflow: boolean;
}

const MAX_ENDPOINT_ID = 255; // u8 in the kernel; 0 belongs to the initial subflow

function flagsOf(path: PathSpec): EndpointFlag[] {
  const flags: EndpointFlag[] = [];
  if (path.signal) flags.push('signal');
  if (path.subflow) flags.push('subflow');
  if (path.backup) flags.push('backup');
  return flags;
}

function sameEndpoint(a: { id: number; address: string }, b: { id: number; address: string }): boolean {
  return a.id === b.id && canonicalAddress(a.address) === canonicalAddress(b.address);
}

export class EndpointOwner {
  readonly stateFile: string;
  private readonly paths: readonly PathSpec[];
  private readonly desired: PmLimits;
  private readonly log: OwnerLog;
  private readonly resolve: InterfaceResolver;
  private readonly netns: number;
  private readonly store: StateFile;
  private readonly ownsPathManager: boolean;
  private pm: NativePathManager | undefined;
  private state: OwnerState | undefined; // set while braid holds changes in this netns
  private readonly addressPaths = new Map<string, string>();
  private readonly foreign: ForeignEndpoint[] = [];
  private readonly pathManagerType: 'kernel' | 'userspace';
  private readonly pathManagerSysctl: string;
  private resolvedPaths: ResolvedPath[] = [];
  private started = false;

  constructor(options: EndpointOwnerOptions) {
    this.paths = options.paths.map((p) => ({ ...p }));
    this.desired = { ...options.limits };
    this.log = options.log ?? (() => undefined);
    this.resolve = options.resolveInterface ?? defaultResolveInterface;
    this.netns = options.netns ?? netnsInode();
    this.stateFile = stateFilePath(options.stateDir ?? DEFAULT_STATE_DIR, this.netns);
    this.store = new StateFile(this.stateFile);
    this.pm = options.pathManager;
    this.ownsPathManager = options.pathManager === undefined;
    this.pathManagerType = options.pathManagerType ?? 'kernel';
    this.pathManagerSysctl = options.pathManagerSysctl ?? PATH_MANAGER_SYSCTL;
  }

  /** The configured paths with their interfaces resolved, in config order (after start()). */
  resolved(): ResolvedPath[] {
    return this.resolvedPaths.map((p) => ({ ...p, addresses: [...p.addresses] }));
  }

  /**
   * Cleans up after a dead predecessor, then adds one endpoint per address of each path and
   * sets the limits. On failure everything done so far is undone before the error is thrown.
   * Throws BraidError BRAID_PATH_INTERFACE, BRAID_PATH_STATE or BRAID_NETLINK. Once only.
   */
  start(): void {
    if (this.started) throw new Error('EndpointOwner.start() called twice');
    this.started = true;
    // Resolve first: a wrong interface name fails before anything is touched.
    const resolved = this.paths.map((path) => ({ path, iface: this.resolvePath(path) }));
    this.resolvedPaths = resolved.map(({ path, iface }) => ({
      name: path.name,
      interface: iface.name,
      ifindex: iface.ifindex,
      addresses: [...iface.addresses],
      backup: path.backup,
      signal: path.signal,
      subflow: path.subflow,
    }));
    const previous = this.store.read();
    if (previous !== undefined && ownerAlive(previous)) {
      throw new BraidError(
        'BRAID_PATH_STATE',
        `another braid (pid ${previous.pid}) owns the MPTCP endpoints of this network namespace (state file ${this.stateFile})`,
      );
    }
    const pm = this.pathManager();
    try {
      if (previous !== undefined) this.recover(pm, previous);
      this.state = freshState(this.netns);
      this.store.write(this.state);
      this.applyLimits(pm, this.state);
      this.addEndpoints(pm, this.state, resolved);
      if (this.pathManagerType === 'userspace') this.useUserspacePathManager(this.state);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /**
   * Removes exactly the endpoints this owner added (if they still exist), restores the limits
   * it found, deletes the state file. Never throws; failures go to the log callback and leave
   * the state file in place for a retry (or for the next start). Returns true when all is undone.
   */
  release(): boolean {
    const state = this.state;
    const pm = this.pm;
    if (state === undefined || pm === undefined) {
      this.closePathManager();
      return true;
    }
    let ok = true;
    const fail = (message: string, err: unknown): void => {
      ok = false;
      this.log('warn', message, { error: err instanceof Error ? err.message : String(err) });
    };
    let current: PmEndpoint[] | undefined;
    try {
      current = pm.listEndpoints();
    } catch (err) {
      fail('cannot list MPTCP endpoints while releasing', netlinkError(err, 'listing endpoints'));
    }
    if (current !== undefined) {
      for (const ep of [...state.endpoints].reverse()) {
        try {
          const present = current.some((c) => sameEndpoint(c, ep));
          if (present) pm.deleteEndpoint(ep.id);
          state.endpoints.splice(state.endpoints.indexOf(ep), 1);
          this.log('info', present ? 'removed MPTCP endpoint' : 'MPTCP endpoint was already gone', {
            id: ep.id,
            address: ep.address,
            path: ep.path,
          });
        } catch (err) {
          fail('cannot remove MPTCP endpoint', netlinkError(err, `deleting endpoint id ${ep.id} (${ep.address})`));
        }
      }
    }
    if (state.pathManager !== undefined) {
      try {
        writeFileSync(this.pathManagerSysctl, state.pathManager.previous);
        this.log('info', 'restored net.mptcp.path_manager', { value: state.pathManager.previous });
        delete state.pathManager;
      } catch (err) {
        fail('cannot restore net.mptcp.path_manager', err);
      }
    }
    if (state.limits !== null) {
      try {
        pm.setLimits(state.limits.previous);
        this.log('info', 'restored MPTCP limits', { ...state.limits.previous });
        state.limits = null;
      } catch (err) {
        fail('cannot restore MPTCP limits', netlinkError(err, 'restoring limits'));
      }
    }
    try {
      if (ok) this.store.remove();
      else this.store.write(state);
    } catch (err) {
      fail('cannot update the endpoint state file', err);
    }
    if (ok) {
      this.state = undefined;
      this.closePathManager();
    }
    return ok;
  }

  /** Path name for a local address of a configured path (owned or left to a foreign endpoint). */
  addressToPath(address: string): string | undefined {
    const canon = canonicalAddress(address);
    return canon === undefined ? undefined : this.addressPaths.get(canon);
  }

  /** Endpoints this owner added and has not removed. */
  endpoints(): OwnedEndpoint[] {
    return (this.state?.endpoints ?? []).map((e) => ({ ...e, flags: [...e.flags] }));
  }

  /** Addresses of configured paths that already had an endpoint braid does not own. */
  foreignEndpoints(): ForeignEndpoint[] {
    return this.foreign.map((f) => ({ ...f, flags: [...f.flags] }));
  }

  private closePathManager(): void {
    if (this.ownsPathManager && this.pm !== undefined) {
      this.pm.close();
      this.pm = undefined;
    }
  }

  private pathManager(): NativePathManager {
    if (this.pm === undefined) this.pm = openPathManager();
    return this.pm;
  }

  private resolvePath(path: PathSpec): ResolvedInterface {
    const iface = this.resolve(path.interface);
    if (iface === undefined) {
      throw new BraidError(
        'BRAID_PATH_INTERFACE',
        `path "${path.name}": interface "${path.interface}" does not exist in this network namespace`,
      );
    }
    if (iface.addresses.length === 0) {
      throw new BraidError(
        'BRAID_PATH_INTERFACE',
        `path "${path.name}": interface "${path.interface}" (state ${iface.operstate}) has no IPv4 or global IPv6 address; ` +
          'addresses are read only from interfaces that are up',
      );
    }
    return iface;
  }

  /** Undo what a dead braid recorded: its endpoints that still exist as it made them, and its limits. */
  private recover(pm: NativePathManager, previous: OwnerState): void {
    this.log('info', 'cleaning up after a braid that did not release its MPTCP endpoints', {
      pid: previous.pid,
      endpoints: previous.endpoints.length,
      stateFile: this.stateFile,
    });
    const current = this.call(() => pm.listEndpoints(), 'listing endpoints');
    for (const ep of previous.endpoints) {
      if (!current.some((c) => sameEndpoint(c, ep))) continue; // never added, or removed by someone
      this.call(() => pm.deleteEndpoint(ep.id), `removing stale endpoint id ${ep.id} (${ep.address}) of pid ${previous.pid}`);
      this.log('info', 'removed stale MPTCP endpoint', { id: ep.id, address: ep.address, path: ep.path });
    }
    if (previous.pathManager !== undefined) {
      try {
        writeFileSync(this.pathManagerSysctl, previous.pathManager.previous);
      } catch (err) {
        throw new BraidError('BRAID_PATH_STATE', `cannot restore net.mptcp.path_manager to "${previous.pathManager.previous}" left by pid ${previous.pid}`, { cause: err });
      }
      this.log('info', 'restored net.mptcp.path_manager', { value: previous.pathManager.previous });
    }
    if (previous.limits !== null) {
      const limits = previous.limits.previous;
      this.call(() => pm.setLimits(limits), 'restoring limits recorded by a previous braid');
      this.log('info', 'restored MPTCP limits', { ...limits });
    }
    // The stale file is replaced by this owner's fresh state right after.
  }

  /** Records the current path manager (intent first), then selects the userspace one for new connections. */
  private useUserspacePathManager(state: OwnerState): void {
    let previous: string;
    try {
      previous = readFileSync(this.pathManagerSysctl, 'utf8').trim();
    } catch (err) {
      throw new BraidError('BRAID_PATH_STATE', `cannot read ${this.pathManagerSysctl}: this kernel has no selectable MPTCP path manager (pathManager: userspace needs Linux 6.15 or later)`, { cause: err });
    }
    state.pathManager = { previous };
    this.store.write(state);
    try {
      writeFileSync(this.pathManagerSysctl, 'userspace');
    } catch (err) {
      throw new BraidError('BRAID_PATH_STATE', `cannot set ${this.pathManagerSysctl} to "userspace"`, { cause: err });
    }
    this.log('info', 'MPTCP path manager of this namespace set to userspace', { previous });
  }

  private applyLimits(pm: NativePathManager, state: OwnerState): void {
    const previous = this.call(() => pm.getLimits(), 'reading limits');
    state.limits = { previous, desired: { ...this.desired } };
    this.store.write(state);
    this.call(() => pm.setLimits(this.desired), `setting limits subflows=${this.desired.subflows} add_addr_accepted=${this.desired.addAddrAccepted}`);
  }

  private addEndpoints(
    pm: NativePathManager,
    state: OwnerState,
    resolved: { path: PathSpec; iface: ResolvedInterface }[],
  ): void {
    const existing = this.call(() => pm.listEndpoints(), 'listing endpoints');
    const usedIds = new Set(existing.map((e) => e.id));
    // The in-kernel path manager announces one address at a time, in endpoint-id order, and an
    // address the peer cannot use (another family) stalls the rest (measured: a kernel-MPTCP
    // client never joined). So IPv4 addresses take the low ids, then IPv6, each in path order.
    const pairs = resolved.flatMap(({ path, iface }) => iface.addresses.map((address) => ({ path, iface, address })));
    const ordered = [...pairs.filter((p) => !p.address.includes(':')), ...pairs.filter((p) => p.address.includes(':'))];
    for (const { path, iface, address } of ordered) {
      if (!this.addressPaths.has(address)) this.addressPaths.set(address, path.name);
      const foreign = existing.find((e) => canonicalAddress(e.address) === address);
      if (foreign !== undefined) {
        this.foreign.push({ path: path.name, address, id: foreign.id, flags: foreign.flags });
        this.log('warn', 'address already has an MPTCP endpoint braid does not own; leaving it alone', {
          path: path.name,
          address,
          id: foreign.id,
          flags: foreign.flags,
        });
        continue;
      }
      if (state.endpoints.some((e) => e.address === address)) {
        this.log('warn', 'address is configured on more than one path; kept on the first', { path: path.name, address });
        continue;
      }
      const id = this.freeId(usedIds, path, address);
      const record: StateEndpoint = {
        id,
        address,
        path: path.name,
        interface: iface.name,
        ifindex: iface.ifindex,
        flags: flagsOf(path),
      };
      state.endpoints.push(record); // intent first
      this.store.write(state);
      try {
        pm.addEndpoint({ id, address, port: 0, flags: record.flags, ifindex: iface.ifindex });
      } catch (err) {
        state.endpoints.pop();
        this.store.write(state);
        throw netlinkError(err, `path "${path.name}": adding endpoint ${address} dev ${iface.name} id ${id}`);
      }
      usedIds.add(id);
      this.log('info', 'added MPTCP endpoint', { ...record });
    }
  }

  private freeId(used: Set<number>, path: PathSpec, address: string): number {
    for (let id = 1; id <= MAX_ENDPOINT_ID; id++) if (!used.has(id)) return id;
    throw new BraidError('BRAID_NETLINK', `path "${path.name}": no free MPTCP endpoint id for ${address} (all 1..255 in use)`);
  }

  private call<T>(fn: () => T, what: string): T {
    try {
      return fn();
    } catch (err) {
      throw netlinkError(err, what);
    }
  }
}
