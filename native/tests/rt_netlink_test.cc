// RtNetlink and the TPROXY policy routing against the real kernel, each test in a fresh
// private network namespace (the fixture unshares the netns of this single-threaded test
// process, so `ip` children see the same namespace; the host's rules are never touched).
#include "kernel/rt_netlink.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "kernel/policy_routing.h"

namespace braid::kernel {
namespace {

constexpr uint32_t kMark = 0x6274;
constexpr uint32_t kTable = 0x6274;  // above 255: exercises the u32 table attribute
constexpr uint32_t kSmallTable = 100;

class RtNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << strerror(errno);
    Sh("ip link set lo up");
  }

  static void Sh(const std::string& cmd) { ASSERT_EQ(system(cmd.c_str()), 0) << cmd; }

  // stdout of cmd, to check what iproute2 (an independent reader) sees.
  static std::string Out(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[512];
    while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    pclose(p);
    return out;
  }

  static size_t CountRules(RtNetlink& nl, int family, uint32_t mark, uint32_t table) {
    auto rules = nl.ListRules(family);
    return static_cast<size_t>(std::count_if(rules.begin(), rules.end(), [&](const RtRule& r) {
      return r.mark == mark && r.table == table;
    }));
  }
};

TEST_F(RtNetlinkTest, FreshNamespaceHasOnlyTheDefaultRules) {
  RtNetlink nl;
  auto rules = nl.ListRules(AF_INET);
  ASSERT_EQ(rules.size(), 3u);  // local, main, default
  EXPECT_EQ(rules[0].table, 255u);
  EXPECT_EQ(rules[0].priority, 0u);
  EXPECT_EQ(rules[1].table, 254u);
  EXPECT_EQ(rules[1].priority, 32766u);
  EXPECT_EQ(rules[2].table, 253u);
  EXPECT_TRUE(nl.ListRoutes(AF_INET, kTable).empty());
  EXPECT_TRUE(nl.ListRoutes(AF_INET6, kTable).empty());
}

TEST_F(RtNetlinkTest, InstallShowsRuleAndRouteForBothFamilies) {
  RtNetlink nl;
  InstallPolicyRouting(nl, kMark, kTable);
  PolicyRoutingState st = GetPolicyRouting(nl, kMark, kTable);
  ASSERT_EQ(st.rules.size(), 2u);
  ASSERT_EQ(st.routes.size(), 2u);
  for (int family : {AF_INET, AF_INET6}) {
    auto rule = std::find_if(st.rules.begin(), st.rules.end(), [&](const RtRule& r) { return r.family == family; });
    ASSERT_NE(rule, st.rules.end()) << family;
    EXPECT_EQ(rule->mark, kMark);
    EXPECT_EQ(rule->mask, 0xffffffffu);
    EXPECT_EQ(rule->table, kTable);
    EXPECT_EQ(rule->action, FR_ACT_TO_TBL);
    EXPECT_EQ(rule->protocol, kBraidRouteProtocol);
    EXPECT_GT(rule->priority, 0u);  // the kernel chose one
    auto route = std::find_if(st.routes.begin(), st.routes.end(), [&](const RtRoute& r) { return r.family == family; });
    ASSERT_NE(route, st.routes.end()) << family;
    EXPECT_EQ(route->type, kRouteTypeLocal);
    EXPECT_EQ(route->table, kTable);
    EXPECT_EQ(route->dst_len, 0);
    EXPECT_EQ(route->protocol, kBraidRouteProtocol);
    EXPECT_EQ(nl.LinkName(route->oif), "lo");
    EXPECT_EQ(RtFormatPrefix(*route), family == AF_INET ? "0.0.0.0/0" : "::/0");
  }
  // iproute2 reads the same thing.
  const std::string t = std::to_string(kTable);
  EXPECT_NE(Out("ip rule show").find("fwmark 0x6274 lookup " + t), std::string::npos) << Out("ip rule show");
  EXPECT_NE(Out("ip -6 rule show").find("fwmark 0x6274 lookup " + t), std::string::npos);
  EXPECT_NE(Out("ip route show table " + t).find("local default dev lo"), std::string::npos) << Out("ip route show table " + t);
  EXPECT_NE(Out("ip -6 route show table " + t).find("local default dev lo"), std::string::npos)
      << Out("ip -6 route show table " + t);
}

TEST_F(RtNetlinkTest, SmallTableIdUsesTheHeaderFieldToo) {
  RtNetlink nl;
  InstallPolicyRouting(nl, kMark, kSmallTable, 1234);
  PolicyRoutingState st = GetPolicyRouting(nl, kMark, kSmallTable);
  ASSERT_EQ(st.rules.size(), 2u);
  EXPECT_EQ(st.rules[0].priority, 1234u);
  EXPECT_EQ(st.rules[1].priority, 1234u);
  EXPECT_EQ(st.routes.size(), 2u);
  EXPECT_NE(Out("ip rule show").find("1234:\tfrom all fwmark 0x6274 lookup 100"), std::string::npos) << Out("ip rule show");
}

TEST_F(RtNetlinkTest, RemoveLeavesNone) {
  RtNetlink nl;
  InstallPolicyRouting(nl, kMark, kTable);
  RemovePolicyRouting(nl, kMark, kTable);
  PolicyRoutingState st = GetPolicyRouting(nl, kMark, kTable);
  EXPECT_TRUE(st.rules.empty());
  EXPECT_TRUE(st.routes.empty());
  EXPECT_EQ(nl.ListRules(AF_INET).size(), 3u);
  EXPECT_EQ(nl.ListRules(AF_INET6).size(), 2u);  // IPv6 has local and main only
  EXPECT_EQ(Out("ip route show table " + std::to_string(kTable)), "");
}

TEST_F(RtNetlinkTest, RemoveWhenAbsentSucceeds) {
  RtNetlink nl;
  RemovePolicyRouting(nl, kMark, kTable);
  RemovePolicyRouting(nl, kMark, kTable);
  EXPECT_TRUE(GetPolicyRouting(nl, kMark, kTable).rules.empty());
}

TEST_F(RtNetlinkTest, InstallTwiceLeavesOneRulePerFamily) {
  RtNetlink nl;
  InstallPolicyRouting(nl, kMark, kTable);
  InstallPolicyRouting(nl, kMark, kTable);
  EXPECT_EQ(CountRules(nl, AF_INET, kMark, kTable), 1u);
  EXPECT_EQ(CountRules(nl, AF_INET6, kMark, kTable), 1u);
  EXPECT_EQ(nl.ListRoutes(AF_INET, kTable).size(), 1u);
  EXPECT_EQ(nl.ListRoutes(AF_INET6, kTable).size(), 1u);
}

TEST_F(RtNetlinkTest, InstallReplacesLeftoversOfAnEarlierRun) {
  // What a crashed run (or an operator) may leave: duplicate rules at other priorities and
  // masks, and other routes in the table.
  const std::string t = std::to_string(kTable);
  Sh("ip rule add fwmark 0x6274 lookup " + t + " priority 100");
  Sh("ip rule add fwmark 0x6274/0xffff lookup " + t + " priority 200");
  Sh("ip -6 rule add fwmark 0x6274 lookup " + t + " priority 100");
  Sh("ip route add blackhole 198.18.5.0/24 table " + t);
  Sh("ip -6 route add local 2001:2::/64 dev lo table " + t);
  RtNetlink nl;
  InstallPolicyRouting(nl, kMark, kTable, 300);
  PolicyRoutingState st = GetPolicyRouting(nl, kMark, kTable);
  ASSERT_EQ(st.rules.size(), 2u);
  for (const RtRule& r : st.rules) EXPECT_EQ(r.priority, 300u);
  ASSERT_EQ(st.routes.size(), 2u);
  for (const RtRoute& r : st.routes) EXPECT_EQ(r.dst_len, 0);
}

TEST_F(RtNetlinkTest, RemoveSparesRulesOfAnotherMarkAndTable) {
  RtNetlink nl;
  Sh("ip rule add fwmark 0x99 lookup 99");
  Sh("ip -6 rule add fwmark 0x99 lookup 99");
  Sh("ip route add local 0.0.0.0/0 dev lo table 99");
  // Same mark, another table; same table, another mark: not ours either.
  Sh("ip rule add fwmark 0x6274 lookup 98");
  Sh("ip rule add fwmark 0x98 lookup " + std::to_string(kTable));
  InstallPolicyRouting(nl, kMark, kTable);
  RemovePolicyRouting(nl, kMark, kTable);
  EXPECT_EQ(CountRules(nl, AF_INET, 0x99, 99), 1u);
  EXPECT_EQ(CountRules(nl, AF_INET6, 0x99, 99), 1u);
  EXPECT_EQ(nl.ListRoutes(AF_INET, 99).size(), 1u);
  EXPECT_EQ(CountRules(nl, AF_INET, kMark, 98), 1u);
  EXPECT_EQ(CountRules(nl, AF_INET, 0x98, kTable), 1u);
  EXPECT_EQ(CountRules(nl, AF_INET, kMark, kTable), 0u);
}

TEST_F(RtNetlinkTest, ReservedTablesAndMarkZeroAreRefused) {
  RtNetlink nl;
  for (uint32_t table : {0u, 253u, 254u, 255u}) {
    try {
      RemovePolicyRouting(nl, kMark, table);
      FAIL() << "table " << table << " accepted";
    } catch (const RtError& e) {
      EXPECT_EQ(e.err(), EINVAL);
    }
  }
  EXPECT_THROW(InstallPolicyRouting(nl, 0, kTable), RtError);
  EXPECT_EQ(nl.ListRules(AF_INET).size(), 3u);
}

TEST_F(RtNetlinkTest, KernelErrorsCarryErrnoAndMessageType) {
  RtNetlink nl;
  RtRule rule;
  rule.mark = kMark;
  rule.table = kTable;
  rule.priority = 500;
  nl.AddFwmarkRule(rule);
  try {
    nl.AddFwmarkRule(rule);
    FAIL() << "duplicate rule accepted";
  } catch (const RtError& e) {
    EXPECT_EQ(e.err(), EEXIST) << e.what();
    EXPECT_STREQ(e.op(), "RTM_NEWRULE");
  }
  rule.priority = 501;
  try {
    nl.DeleteRule(rule);
    FAIL() << "deleting a missing rule succeeded";
  } catch (const RtError& e) {
    EXPECT_EQ(e.err(), ENOENT) << e.what();
    EXPECT_STREQ(e.op(), "RTM_DELRULE");
  }
  RtRoute route;
  route.table = kTable;
  route.type = kRouteTypeLocal;
  try {
    nl.DeleteRoute(route);
    FAIL() << "deleting a missing route succeeded";
  } catch (const RtError& e) {
    EXPECT_EQ(e.err(), ESRCH) << e.what();
    EXPECT_STREQ(e.op(), "RTM_DELROUTE");
  }
  try {
    nl.LinkIndex("nosuchdev0");
    FAIL() << "missing interface found";
  } catch (const RtError& e) {
    EXPECT_EQ(e.err(), ENODEV) << e.what();
  }
  // Still usable after errors: no stale replies confuse the next request.
  EXPECT_EQ(CountRules(nl, AF_INET, kMark, kTable), 1u);
  EXPECT_EQ(nl.LinkIndex("lo"), 1);
}

TEST_F(RtNetlinkTest, ClosedSocketThrowsEbadf) {
  RtNetlink nl;
  nl.Close();
  nl.Close();
  EXPECT_TRUE(nl.closed());
  try {
    nl.ListRules(AF_INET);
    FAIL() << "closed socket answered";
  } catch (const RtError& e) {
    EXPECT_EQ(e.err(), EBADF);
  }
}

}  // namespace
}  // namespace braid::kernel
