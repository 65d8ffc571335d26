#pragma once
// The policy routing nftables TPROXY needs: packets carrying `mark` are routed by `table`,
// whose only route says every destination is local, so the kernel delivers them to a local
// (IP_TRANSPARENT) socket instead of forwarding them:
//   ip rule add fwmark MARK lookup TABLE          ip -6 rule add fwmark MARK lookup TABLE
//   ip route add local 0.0.0.0/0 dev lo table T   ip -6 route add local ::/0 dev lo table T
// Both families, every time. Install and remove are idempotent so a restart or a crash
// handler can call them without knowing what a previous run left.
#include <cstdint>
#include <vector>

#include "kernel/rt_netlink.h"

namespace braid::kernel {

struct PolicyRoutingState {
  std::vector<RtRule> rules;    // rules with exactly this fwmark and table, both families
  std::vector<RtRoute> routes;  // every route in the table, both families
};

// Tables the kernel and every distribution use for themselves: braid's table must be its own,
// since remove deletes every route in it.
bool PolicyRoutingTableReserved(uint32_t table);

// Removes what RemovePolicyRouting removes, then adds the rule and the local default route via
// "lo" for IPv4 and IPv6. priority 0 lets the kernel choose (just above the main table's rule).
// On failure, what was added is removed again (best effort) and the error is rethrown.
void InstallPolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table, uint32_t priority = 0);

// Deletes every rule with this fwmark (any mask, any priority) and table and every route in the
// table, both families. Entries already gone (ENOENT, ESRCH) are not errors.
void RemovePolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table);

PolicyRoutingState GetPolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table);

}  // namespace braid::kernel
