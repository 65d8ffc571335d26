// The EAL argument vector (DESIGN.md DPDK facts). rte_eal_init itself runs only in the
// braid-ustack integration test: one EAL per process, ever.
#include "ustack/phy/dpdk_eal.h"

#include <gtest/gtest.h>

namespace braid::ustack {
namespace {

TEST(PhyDpdkEal, DefaultsRunWithoutHugepagesPciOrSharedConfig) {
  EalOptions o;
  o.vdevs = {"net_af_packet0,iface=veth0"};
  o.extra_args = {"--log-level=lib.eal:debug"};
  const std::vector<std::string> want{"braid-ustack", "-l", "1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                      "--no-telemetry", "--vdev", "net_af_packet0,iface=veth0",
                                      "--log-level=lib.eal:debug"};
  EXPECT_EQ(EalArgs(o, 1), want);
  EXPECT_EQ(Eal::Get(), nullptr);
}

}  // namespace
}  // namespace braid::ustack
