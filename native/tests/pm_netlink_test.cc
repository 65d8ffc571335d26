// PmNetlink against the real kernel, each test in a fresh private network namespace.
// The fixture unshares the netns of this (single-threaded) test process, so `ip` children
// it runs for set-up see the same namespace; the host's endpoints are never touched.
#include "kernel/pm_netlink.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace braid::kernel {
namespace {

class PmNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << strerror(errno);
    // This kernel has no dummy driver: a veth pair stands in for two NICs.
    Sh("ip link set lo up");
    Sh("ip link add pmt0 type veth peer name pmt1");
    Sh("ip link set pmt0 up && ip link set pmt1 up");
    Sh("ip addr add 198.18.10.1/24 dev pmt0");
    Sh("ip -6 addr add 2001:2::10/64 dev pmt1 nodad");
    ifindex0_ = static_cast<int>(if_nametoindex("pmt0"));
    ifindex1_ = static_cast<int>(if_nametoindex("pmt1"));
    ASSERT_GT(ifindex0_, 0);
    ASSERT_GT(ifindex1_, 0);
  }

  static void Sh(const std::string& cmd) { ASSERT_EQ(system(cmd.c_str()), 0) << cmd; }

  static PmEndpoint Endpoint(uint8_t id, const std::string& address, uint32_t flags, int ifindex) {
    PmEndpoint ep;
    ep.id = id;
    EXPECT_TRUE(PmParseAddress(address, &ep)) << address;
    ep.flags = flags;
    ep.ifindex = ifindex;
    return ep;
  }

  static const PmEndpoint* Find(const std::vector<PmEndpoint>& eps, uint8_t id) {
    auto it = std::find_if(eps.begin(), eps.end(), [id](const PmEndpoint& e) { return e.id == id; });
    return it == eps.end() ? nullptr : &*it;
  }

  int ifindex0_ = 0;
  int ifindex1_ = 0;
};

TEST_F(PmNetlinkTest, FreshNamespaceHasNoEndpoints) {
  PmNetlink pm;
  EXPECT_TRUE(pm.ListEndpoints().empty());
}

TEST_F(PmNetlinkTest, AddListDeleteRoundTripV4AndV6) {
  PmNetlink pm;
  pm.AddEndpoint(Endpoint(7, "198.18.10.1", kPmFlagSignal | kPmFlagBackup, ifindex0_));
  PmEndpoint v6 = Endpoint(9, "2001:2::10", kPmFlagSubflow | kPmFlagFullmesh, ifindex1_);
  pm.AddEndpoint(v6);

  auto eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 2u);
  const PmEndpoint* a = Find(eps, 7);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(PmFormatAddress(*a), "198.18.10.1");
  EXPECT_EQ(a->flags, kPmFlagSignal | kPmFlagBackup);
  EXPECT_EQ(a->ifindex, ifindex0_);
  EXPECT_EQ(a->port, 0);
  const PmEndpoint* b = Find(eps, 9);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->family, AF_INET6);
  EXPECT_EQ(PmFormatAddress(*b), "2001:2::10");
  EXPECT_EQ(b->flags, kPmFlagSubflow | kPmFlagFullmesh);
  EXPECT_EQ(b->ifindex, ifindex1_);

  pm.DeleteEndpoint(7);
  eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].id, 9);
  pm.DeleteEndpoint(9);
  EXPECT_TRUE(pm.ListEndpoints().empty());
}

TEST_F(PmNetlinkTest, SignalEndpointKeepsItsPort) {
  PmNetlink pm;
  PmEndpoint ep = Endpoint(3, "198.18.10.1", kPmFlagSignal, ifindex0_);
  ep.port = 15006;
  pm.AddEndpoint(ep);
  auto eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].port, 15006);
}

TEST_F(PmNetlinkTest, KernelChoosesIdWhenZero) {
  PmNetlink pm;
  pm.AddEndpoint(Endpoint(0, "198.18.10.1", kPmFlagSubflow, 0));
  auto eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_NE(eps[0].id, 0);
  EXPECT_EQ(eps[0].ifindex, 0);
}

TEST_F(PmNetlinkTest, SetFlagsTogglesBackup) {
  PmNetlink pm;
  pm.AddEndpoint(Endpoint(4, "198.18.10.1", kPmFlagSubflow, ifindex0_));
  pm.SetFlags(4, kPmFlagBackup);
  auto eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].flags, kPmFlagSubflow | kPmFlagBackup);  // subflow is not the kernel's to change here
  pm.SetFlags(4, 0);
  eps = pm.ListEndpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].flags, kPmFlagSubflow);
}

TEST_F(PmNetlinkTest, LimitsRoundTrip) {
  PmNetlink pm;
  PmLimits before = pm.GetLimits();
  EXPECT_EQ(before.subflows, 2u);  // per-netns kernel default
  pm.SetLimits({.subflows = 5, .add_addr_accepted = 3});
  PmLimits after = pm.GetLimits();
  EXPECT_EQ(after.subflows, 5u);
  EXPECT_EQ(after.add_addr_accepted, 3u);
}

TEST_F(PmNetlinkTest, DeletingMissingIdSurfacesKernelErrno) {
  PmNetlink pm;
  try {
    pm.DeleteEndpoint(42);
    FAIL() << "deleting a missing endpoint succeeded";
  } catch (const PmError& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_STREQ(e.op(), "MPTCP_PM_CMD_DEL_ADDR");
    // The kernel's extended-ACK text rides along.
    EXPECT_NE(std::string(e.what()).find("address not found"), std::string::npos) << e.what();
  }
}

TEST_F(PmNetlinkTest, DuplicateAddressAndOverLimitAreErrors) {
  PmNetlink pm;
  pm.AddEndpoint(Endpoint(1, "198.18.10.1", kPmFlagSubflow, ifindex0_));
  try {
    pm.AddEndpoint(Endpoint(2, "198.18.10.1", kPmFlagSubflow, ifindex0_));
    FAIL() << "duplicate endpoint accepted";
  } catch (const PmError& e) {
    EXPECT_EQ(e.err(), EEXIST) << e.what();
    EXPECT_STREQ(e.op(), "MPTCP_PM_CMD_ADD_ADDR");
  }
  try {
    pm.SetLimits({.subflows = 1000, .add_addr_accepted = 0});
    FAIL() << "limit above the kernel maximum accepted";
  } catch (const PmError& e) {
    EXPECT_EQ(e.err(), EINVAL) << e.what();
  }
  // The connection stays usable after errors (no stale replies confuse the next request).
  EXPECT_EQ(pm.ListEndpoints().size(), 1u);
}

TEST_F(PmNetlinkTest, ClosedManagerThrowsEbadf) {
  PmNetlink pm;
  pm.Close();
  pm.Close();  // idempotent
  EXPECT_TRUE(pm.closed());
  try {
    pm.ListEndpoints();
    FAIL() << "closed manager answered";
  } catch (const PmError& e) {
    EXPECT_EQ(e.err(), EBADF);
  }
}

TEST(PmAddress, ParseAndFormat) {
  PmEndpoint ep;
  EXPECT_TRUE(PmParseAddress("2001:0002:0000::0001", &ep));
  EXPECT_EQ(ep.family, AF_INET6);
  EXPECT_EQ(PmFormatAddress(ep), "2001:2::1");
  EXPECT_TRUE(PmParseAddress("198.18.0.1", &ep));
  EXPECT_EQ(ep.family, AF_INET);
  EXPECT_EQ(PmFormatAddress(ep), "198.18.0.1");
  EXPECT_FALSE(PmParseAddress("198.18.0.256", &ep));
  EXPECT_FALSE(PmParseAddress("eth0", &ep));
}

}  // namespace
}  // namespace braid::kernel
