// The policy routing nftables TPROXY needs, made by the native addon over rtnetlink (no `ip`):
// packets with braid's fwmark are looked up in braid's table, whose only route makes every
// destination local, so they reach braid's IP_TRANSPARENT listener instead of being forwarded.
//   ip rule add fwmark MARK lookup TABLE   +   ip route add local 0.0.0.0/0 dev lo table TABLE
// and the same for IPv6. Every method is synchronous, so an exit or crash handler can call
// remove(). Works in the network namespace of the thread that constructed the object.
import { join } from 'node:path';
import { BraidError } from '../errors';

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

interface PolicyRoutingAddon {
  PolicyRouting: new () => NativePolicyRouting;
}

// dist/src/redirect -> <root>/build/native/Release
const ADDON_PATH = join(__dirname, '..', '..', '..', 'build', 'native', 'Release', 'braid_native.node');

let addon: PolicyRoutingAddon | undefined;

function loadAddon(): PolicyRoutingAddon {
  if (addon === undefined) {
    try {
      addon = require(ADDON_PATH) as PolicyRoutingAddon;
    } catch (err) {
      throw new BraidError('BRAID_NATIVE', `cannot load the native addon ${ADDON_PATH} (run npm run build:native)`, {
        cause: err,
      });
    }
  }
  return addon;
}

/** A native 'BRAID_NETLINK' failure as BraidError('BRAID_NETLINK') with errno; anything else unchanged. */
function netlinkError(err: unknown, what: string): unknown {
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== 'BRAID_NETLINK') return err;
  const errno = (err as { errno?: unknown }).errno;
  const options = typeof errno === 'number' ? { cause: err, errno } : { cause: err };
  return new BraidError('BRAID_NETLINK', `${what}: ${err.message}`, options);
}

const describe = (k: PolicyRoutingKey) => `fwmark 0x${k.mark.toString(16)} table ${k.table}`;

export class PolicyRouting {
  private readonly native: NativePolicyRouting;

  /** Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
  constructor() {
    const { PolicyRouting: Native } = loadAddon();
    try {
      this.native = new Native();
    } catch (err) {
      throw netlinkError(err, 'opening the rtnetlink socket for policy routing');
    }
  }

  /**
   * Removes what remove() removes, then adds the fwmark rule and the local default route via lo
   * for IPv4 and IPv6. On failure it takes back what it added before throwing.
   */
  install(options: PolicyRoutingInstall): void {
    try {
      this.native.install(options);
    } catch (err) {
      throw netlinkError(err, `installing TPROXY policy routing (${describe(options)})`);
    }
  }

  /** Deletes every rule with this fwmark and table and every route in the table; nothing there is fine. */
  remove(key: PolicyRoutingKey): void {
    try {
      this.native.remove(key);
    } catch (err) {
      throw netlinkError(err, `removing TPROXY policy routing (${describe(key)})`);
    }
  }

  status(key: PolicyRoutingKey): PolicyRoutingStatus {
    try {
      return this.native.status(key);
    } catch (err) {
      throw netlinkError(err, `listing TPROXY policy routing (${describe(key)})`);
    }
  }

  /** Closes the socket; idempotent. Later calls throw BraidError('BRAID_NETLINK', errno EBADF). */
  close(): void {
    this.native.close();
  }
}
