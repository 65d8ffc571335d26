// Install, remove and inspect the TPROXY policy routing. See policy_routing.h.
#include "kernel/policy_routing.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

namespace braid::kernel {

namespace {

constexpr int kFamilies[] = {AF_INET, AF_INET6};

void CheckKey(uint32_t mark, uint32_t table, const char* op) {
  if (mark == 0) throw RtError(EINVAL, op, "fwmark 0 matches every unmarked packet");
  if (PolicyRoutingTableReserved(table)) {
    throw RtError(EINVAL, op, "table " + std::to_string(table) + " is reserved (0, 253 default, 254 main, 255 local)");
  }
}

bool IsGone(const RtError& e) { return e.err() == ENOENT || e.err() == ESRCH; }

std::vector<RtRule> OurRules(RtNetlink& nl, int family, uint32_t mark, uint32_t table) {
  std::vector<RtRule> out;
  for (const RtRule& r : nl.ListRules(family)) {
    if (r.mark == mark && r.table == table) out.push_back(r);
  }
  return out;
}

}  // namespace

bool PolicyRoutingTableReserved(uint32_t table) {
  return table == RT_TABLE_UNSPEC || table == RT_TABLE_DEFAULT || table == RT_TABLE_MAIN || table == RT_TABLE_LOCAL;
}

void RemovePolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table) {
  CheckKey(mark, table, "RTM_DELRULE");
  for (int family : kFamilies) {
    for (const RtRule& r : OurRules(nl, family, mark, table)) {
      try {
        nl.DeleteRule(r);
      } catch (const RtError& e) {
        if (!IsGone(e)) throw;  // someone else removed it meanwhile: that is what we wanted
      }
    }
    for (const RtRoute& r : nl.ListRoutes(family, table)) {
      try {
        nl.DeleteRoute(r);
      } catch (const RtError& e) {
        if (!IsGone(e)) throw;
      }
    }
  }
}

void InstallPolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table, uint32_t priority) {
  CheckKey(mark, table, "RTM_NEWRULE");
  RemovePolicyRouting(nl, mark, table);
  try {
    const int lo = nl.LinkIndex("lo");
    for (int family : kFamilies) {
      // Route before rule: a rule pointing at an empty table would, for a moment, send marked
      // packets on to the next rule (main) instead of to the local socket.
      nl.AddLocalDefaultRoute(family, table, lo);
      RtRule rule;
      rule.family = family;
      rule.mark = mark;
      rule.mask = 0xffffffffu;
      rule.table = table;
      rule.priority = priority;
      nl.AddFwmarkRule(rule);
    }
  } catch (const RtError&) {
    try {
      RemovePolicyRouting(nl, mark, table);
    } catch (const RtError&) {
      // the first error is the one worth reporting
    }
    throw;
  }
}

PolicyRoutingState GetPolicyRouting(RtNetlink& nl, uint32_t mark, uint32_t table) {
  PolicyRoutingState state;
  for (int family : kFamilies) {
    for (const RtRule& r : OurRules(nl, family, mark, table)) state.rules.push_back(r);
    for (const RtRoute& r : nl.ListRoutes(family, table)) state.routes.push_back(r);
  }
  return state;
}

}  // namespace braid::kernel
