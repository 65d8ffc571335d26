// Watches the links of braid-ustack's ports and reports when one goes down or comes back, so MPTCP
// stops scheduling on a dead path at once instead of after its retransmission timeouts. A link is
// read with rte_eth_link_get_nowait (DpdkPort::link_up); where the driver never updates it
// (net_af_packet in DPDK 22.11 reports "up" from start to stop), the kernel netdev it is bound to
// is read too: IFF_UP and IFF_RUNNING (a veth loses carrier when its peer goes down). Down when
// either says so.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "ustack/phy/dpdk_port.h"
#include "ustack/wire/instant.h"

namespace braid::ustack::tools {

class LinkMonitor {
 public:
  struct Link {
    const DpdkPort* port;
    std::string kernel_iface;  // "" when the port is not bound to a kernel netdev
  };
  LinkMonitor(std::vector<Link> links, Duration interval);
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  // At most once per interval: reads every link and calls on_change(index, up) for each whose state
  // differs from the one reported last in two reads in a row (a flap shorter than an interval is no
  // path change). Links count as up from the start, and a link is watched only once it has read up
  // for the first time: while the driver starts, af_packet ports read down for a few hundred ms
  // although their frames already flow.
  void Poll(Instant now, const std::function<void(std::size_t index, bool up)>& on_change);
  bool up(std::size_t index) const { return up_.at(index); }

 private:
  bool KernelUp(const std::string& name) const;

  std::vector<Link> links_;
  std::vector<bool> up_;
  std::vector<int> differing_;  // reads in a row that differed from up_
  std::vector<bool> seen_up_;   // read up at least once: watched from then on
  Duration interval_;
  Instant next_{};
  int fd_ = -1;  // for SIOCGIFFLAGS
};

}  // namespace braid::ustack::tools
