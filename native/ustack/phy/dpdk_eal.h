// The DPDK Environment Abstraction Layer, once per process (DESIGN.md, DPDK facts): one init ever,
// and a failed init poisons the process, so a second Init after a failure throws at once. The
// calling thread's CPU affinity is saved before rte_eal_init (which pins it) and restored after.
// argv stays alive for the life of the process, as the EAL keeps pointers into it. No signal
// handler is installed here or by the EAL.
#pragma once

#include <string>
#include <vector>

namespace braid::ustack {

struct EalOptions {
  // Defaults that run with no hugepages, no PCI and no shared config, so several DPDK processes
  // (and kernel-owned NICs) coexist: --no-huge -m 256 --no-pci --no-shconf.
  bool no_huge = true;
  unsigned memory_mb = 256;
  bool no_pci = true;
  bool no_shconf = true;
  std::vector<std::string> vdevs;        // each becomes --vdev <spec>, e.g. "net_af_packet0,iface=veth0"
  std::vector<std::string> extra_args;   // passed through after the above (e.g. --log-level=...)
};

class Eal {
 public:
  // Initializes the EAL the first time; later calls return the same Eal and ignore `options`.
  // Throws std::runtime_error naming rte_errno and the arguments when rte_eal_init fails, and on
  // every call after such a failure.
  static Eal& Init(const EalOptions& options);
  // The EAL if Init succeeded, else nullptr.
  static Eal* Get();
  const std::vector<std::string>& args() const { return args_; }

 private:
  explicit Eal(std::vector<std::string> args) : args_(std::move(args)) {}
  std::vector<std::string> args_;  // the strings argv points into, never freed
};

// The argument vector Eal::Init would pass (program name first); pure, for tests and logs.
std::vector<std::string> EalArgs(const EalOptions& options, int main_lcore);

}  // namespace braid::ustack
