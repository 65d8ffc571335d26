// The policy routing nftables TPROXY needs, made by the native addon over rtnetlink (no `ip`):
// packets with braid's fwmark are looked up in braid's table, whose only route makes every
// destination local, so they reach braid's IP_TRANSPARENT listener instead of being forwarded.
//   ip rule add fwmark MARK lookup TABLE   +   ip route add local 0.0.0.0/0 dev lo table TABLE
// and the same for IPv6. Every method is synchronous, so an exit or crash handler can call
// remove(). Works in the network namespace of the thread that constructed the object.
import { netlinkError } from '../dataplane';
import { nativeModule } from '../dataplane/native';
import type { NativePolicyRouting, PolicyRoutingInstall, PolicyRoutingKey, PolicyRoutingStatus } from '../dataplane/types';

export type { NativePolicyRouting, PolicyRoute, PolicyRoutingInstall, PolicyRoutingKey, PolicyRoutingStatus, PolicyRule } from '../dataplane/types';

const describe = (k: PolicyRoutingKey) => `fwmark 0x${k.mark.toString(16)} table ${k.table}`;

export class PolicyRouting {
  private readonly native: NativePolicyRouting;

  /** Opens a NETLINK_ROUTE socket in the calling thread's network namespace. */
  constructor() {
    const { PolicyRouting: Native } = nativeModule();
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
