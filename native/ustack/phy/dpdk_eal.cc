#include "ustack/phy/dpdk_eal.h"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>

#include <mutex>
#include <stdexcept>

namespace braid::ustack {
namespace {

std::mutex g_mutex;
Eal* g_eal = nullptr;
std::string g_failure;  // set once rte_eal_init failed: the process cannot try again

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

std::vector<std::string> EalArgs(const EalOptions& o, int main_lcore) {
  std::vector<std::string> a{"braid-ustack"};
  // One lcore, the CPU the caller already runs on: the EAL starts no worker threads, and the
  // caller's thread is the one that polls.
  a.push_back("-l");
  a.push_back(std::to_string(main_lcore));
  if (o.no_huge) a.push_back("--no-huge");
  if (o.memory_mb > 0) {
    a.push_back("-m");
    a.push_back(std::to_string(o.memory_mb));
  }
  if (o.no_pci) a.push_back("--no-pci");
  if (o.no_shconf) a.push_back("--no-shconf");
  a.push_back("--no-telemetry");  // no socket in /var/run/dpdk; braid has its own metrics
  for (const auto& v : o.vdevs) {
    a.push_back("--vdev");
    a.push_back(v);
  }
  a.insert(a.end(), o.extra_args.begin(), o.extra_args.end());
  return a;
}

Eal& Eal::Init(const EalOptions& options) {
  std::lock_guard lock(g_mutex);
  if (g_eal != nullptr) return *g_eal;
  if (!g_failure.empty()) throw std::runtime_error("dpdk: EAL init already failed in this process (" + g_failure + ")");

  cpu_set_t saved;
  CPU_ZERO(&saved);
  const bool have_mask = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
  int lcore = 0;
  if (have_mask) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &saved)) {
        lcore = c;
        break;
      }
    }
  }
  auto* eal = new Eal(EalArgs(options, lcore));  // never freed: the EAL holds argv for good
  auto* argv = new std::vector<char*>();
  for (auto& s : eal->args_) argv->push_back(s.data());
  argv->push_back(nullptr);

  const int rc = rte_eal_init(static_cast<int>(argv->size() - 1), argv->data());
  const int err = rte_errno;
  if (have_mask) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  if (rc < 0) {
    g_failure = std::string("rte_eal_init: ") + rte_strerror(err) + "; args: " + Join(eal->args_);
    throw std::runtime_error("dpdk: " + g_failure);
  }
  g_eal = eal;
  return *g_eal;
}

Eal* Eal::Get() {
  std::lock_guard lock(g_mutex);
  return g_eal;
}

}  // namespace braid::ustack
