#pragma once
// braid's userspace path manager: a thread that listens to the kernel's MPTCP path-manager events
// and to link changes of the paths' interfaces, and drives SubflowManager's decisions over
// generic netlink. Everything lives in the network namespace of the thread that constructs it.
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel/pm_events.h"
#include "kernel/pm_netlink.h"
#include "kernel/rt_netlink.h"
#include "kernel/subflow_manager.h"

namespace braid::kernel {

struct UserspacePmSnapshot {
  std::vector<PmPathView> paths;
  std::vector<PmConnectionView> connections;
  PmCounters counters;
  uint64_t event_overruns = 0;  // times the kernel dropped events (ENOBUFS)
};

class UserspacePm {
 public:
  // Opens the sockets (throws NetlinkError) and starts the thread.
  explicit UserspacePm(std::vector<PmPath> paths);
  ~UserspacePm();
  UserspacePm(const UserspacePm&) = delete;
  UserspacePm& operator=(const UserspacePm&) = delete;

  void SetPreference(uint32_t token, std::vector<std::vector<uint8_t>> tiers);
  UserspacePmSnapshot Snapshot();
  void Stop();  // idempotent; joins the thread

 private:
  class NetlinkActions;
  void Run();
  void ReadLinks();
  void InitialLinkState();

  std::vector<PmPath> paths_;
  std::unique_ptr<PmNetlink> commands_;
  std::unique_ptr<RtNetlink> routes_;
  std::unique_ptr<NetlinkActions> actions_;
  std::unique_ptr<PmEventSocket> events_;
  std::unique_ptr<SubflowManager> manager_;
  int rtnl_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mu_;  // guards manager_, commands_ and overruns_
  uint64_t overruns_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace braid::kernel
