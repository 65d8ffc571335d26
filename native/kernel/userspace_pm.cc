#include "kernel/userspace_pm.h"

#include <errno.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstring>

namespace braid::kernel {
namespace {

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// IFF_LOWER_UP (carrier) from linux/if.h, which clashes with net/if.h.
constexpr unsigned kIffLowerUp = 1u << 16;

// A path can carry a subflow when its interface is up and has carrier.
bool LinkUsable(unsigned flags) { return (flags & IFF_UP) && (flags & kIffLowerUp); }

}  // namespace

class UserspacePm::NetlinkActions : public PmActions {
 public:
  NetlinkActions(PmNetlink& nl, RtNetlink& rt) : nl_(nl), rt_(rt) {}
  int32_t RouteInterface(const PmAddress& remote) override {
    try {
      return rt_.RouteInterface(remote.family, remote.addr.data());
    } catch (const NetlinkError&) {
      return 0;
    }
  }
  int Announce(uint32_t token, uint8_t id, const PmAddress& local) override {
    return Run([&] { nl_.Announce(token, id, local); });
  }
  int CreateSubflow(uint32_t token, uint8_t id, const PmAddress& local, int32_t ifindex, bool backup,
                    const PmAddress& remote) override {
    return Run([&] { nl_.CreateSubflow(token, id, local, ifindex, backup, remote); });
  }
  int DestroySubflow(uint32_t token, const PmAddress& local, const PmAddress& remote) override {
    return Run([&] { nl_.DestroySubflow(token, local, remote); });
  }
  int SetBackup(uint32_t token, const PmAddress& local, const PmAddress& remote, bool backup) override {
    return Run([&] { nl_.SetSubflowBackup(token, local, remote, backup); });
  }

 private:
  template <typename F>
  int Run(F&& f) {
    try {
      f();
      return 0;
    } catch (const NetlinkError& e) {
      // The connection may close between an event and our command: that is routine, not fatal.
      return e.err() != 0 ? e.err() : EIO;
    }
  }
  PmNetlink& nl_;
  RtNetlink& rt_;
};

UserspacePm::UserspacePm(std::vector<PmPath> paths) : paths_(std::move(paths)) {
  commands_ = std::make_unique<PmNetlink>();
  routes_ = std::make_unique<RtNetlink>();
  actions_ = std::make_unique<NetlinkActions>(*commands_, *routes_);
  events_ = std::make_unique<PmEventSocket>();
  manager_ = std::make_unique<SubflowManager>(paths_, *actions_);
  rtnl_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (rtnl_fd_ < 0) throw NetlinkError(errno, "socket", "rtnetlink (link changes)");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (bind(rtnl_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    int err = errno;
    close(rtnl_fd_);
    throw NetlinkError(err, "bind", "rtnetlink (link changes)");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int err = errno;
    close(rtnl_fd_);
    throw NetlinkError(err, "eventfd", "path manager");
  }
  InitialLinkState();
  thread_ = std::thread([this] { Run(); });
}

UserspacePm::~UserspacePm() { Stop(); }

void UserspacePm::InitialLinkState() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  for (const PmPath& p : paths_) {
    ifreq ifr{};
    if (if_indextoname(static_cast<unsigned>(p.ifindex), ifr.ifr_name) == nullptr) continue;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
      // SIOCGIFFLAGS reports IFF_RUNNING for carrier; it stands for IFF_LOWER_UP here.
      unsigned flags = static_cast<unsigned short>(ifr.ifr_flags);
      bool up = (flags & IFF_UP) && (flags & IFF_RUNNING);
      manager_->OnLink(p.ifindex, up, NowMs());
    }
  }
  close(fd);
}

void UserspacePm::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(rtnl_fd_);
  close(wake_fd_);
  events_.reset();
  if (commands_) commands_->Close();
  if (routes_) routes_->Close();
}

void UserspacePm::SetPreference(uint32_t token, std::vector<std::vector<uint8_t>> tiers) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  manager_->SetPreference(token, std::move(tiers), NowMs());
  // The deadline may have moved: let the thread recompute its wait.
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

UserspacePmSnapshot UserspacePm::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  UserspacePmSnapshot s;
  s.paths = manager_->Paths();
  s.connections = manager_->Connections();
  s.counters = manager_->counters();
  s.event_overruns = overruns_;
  return s;
}

void UserspacePm::ReadLinks() {
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = recv(rtnl_fd_, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or ENOBUFS (the next change brings the state again)
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nlh, static_cast<unsigned>(len)); nlh = NLMSG_NEXT(nlh, len)) {
      if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) continue;
      if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
      const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(nlh));
      bool up = nlh->nlmsg_type == RTM_NEWLINK && LinkUsable(ifi->ifi_flags);
      std::lock_guard<std::mutex> lock(mu_);
      manager_->OnLink(ifi->ifi_index, up, NowMs());
    }
  }
}

void UserspacePm::Run() {
  pollfd fds[3] = {{events_->fd(), POLLIN, 0}, {rtnl_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    int timeout = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      int64_t deadline = manager_->NextDeadline();
      if (deadline != INT64_MAX) timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(1000, deadline - NowMs())));
    }
    int n = poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) return;
    if (fds[2].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof(v));
    }
    if (fds[0].revents & POLLIN) {
      std::vector<PmEvent> batch;
      bool complete = events_->Drain([&batch](const PmEvent& ev) { batch.push_back(ev); });
      std::lock_guard<std::mutex> lock(mu_);
      if (!complete) overruns_++;
      for (const PmEvent& ev : batch) manager_->OnEvent(ev, NowMs());
    }
    if (fds[1].revents & POLLIN) ReadLinks();
    std::lock_guard<std::mutex> lock(mu_);
    manager_->Tick(NowMs());
  }
}

}  // namespace braid::kernel
