#include "ustack/tools/link_monitor.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace braid::ustack::tools {

LinkMonitor::LinkMonitor(std::vector<Link> links, Duration interval)
    : links_(std::move(links)), up_(links_.size(), true), differing_(links_.size(), 0), seen_up_(links_.size(), false), interval_(interval) {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

LinkMonitor::~LinkMonitor() {
  if (fd_ >= 0) close(fd_);
}

bool LinkMonitor::KernelUp(const std::string& name) const {
  if (fd_ < 0 || name.empty() || name.size() >= IFNAMSIZ) return true;  // nothing to ask: the driver decides
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0) return false;  // the netdev is gone
  return (ifr.ifr_flags & IFF_UP) != 0 && (ifr.ifr_flags & IFF_RUNNING) != 0;
}

void LinkMonitor::Poll(Instant now, const std::function<void(std::size_t, bool)>& on_change) {
  if (now < next_) return;
  next_ = now + interval_;
  for (std::size_t i = 0; i < links_.size(); ++i) {
    const bool up = links_[i].port->link_up() && KernelUp(links_[i].kernel_iface);
    if (!seen_up_[i]) {
      seen_up_[i] = up;
      continue;
    }
    if (up == up_[i]) {
      differing_[i] = 0;
      continue;
    }
    if (++differing_[i] < 2) continue;
    differing_[i] = 0;
    up_[i] = up;
    on_change(i, up);
  }
}

}  // namespace braid::ustack::tools
