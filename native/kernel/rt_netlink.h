#pragma once
// Policy routing over rtnetlink (NETLINK_ROUTE): fwmark rules and routes, as `ip rule` and
// `ip route` make them, without running `ip`.
//
// Plain C++, no N-API: the addon wraps it and the unit tests link it directly. Errors are
// thrown as RtError (errno + the rtnetlink message type that failed + the kernel's
// extended-ACK text when it sent one). Every request asks for an ACK, so a call that returns
// did succeed.
//
// A netlink socket belongs to the network namespace that was current for the calling thread
// when the socket was opened: construct RtNetlink in the namespace you mean to manage. Not
// thread-safe; use one instance per thread.
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel/netlink_socket.h"

struct mnl_socket;
struct nlmsghdr;

namespace braid::kernel {

// rtm_protocol / FRA_PROTOCOL of what braid adds. Values above RTPROT_STATIC (4) are not
// interpreted by the kernel; 178 (0xb2, "b2" for braid) is not among the numbers
// linux/rtnetlink.h or /etc/iproute2/rt_protos assign to routing daemons. A number of our own
// shows the origin (`ip route show proto 178`) and keeps daemons that flush their own
// protocol, or RTPROT_STATIC/BOOT, from taking braid's entries with theirs.
inline constexpr uint8_t kBraidRouteProtocol = 0xb2;

// Route types (rtm_type) as the kernel spells them (RTN_*, uapi linux/rtnetlink.h).
inline constexpr uint8_t kRouteTypeUnicast = 1;
inline constexpr uint8_t kRouteTypeLocal = 2;

struct RtRule {
  int family = AF_INET;  // AF_INET or AF_INET6
  uint32_t mark = 0;     // FRA_FWMARK; 0 = the rule does not match on the mark
  uint32_t mask = 0;     // FRA_FWMASK; on add, 0 means 0xffffffff (the whole mark)
  uint32_t table = 0;    // FRA_TABLE
  uint32_t priority = 0; // FRA_PRIORITY; on add, 0 lets the kernel choose
  uint8_t action = 0;    // FR_ACT_*; on add, always FR_ACT_TO_TBL
  uint8_t protocol = 0;  // FRA_PROTOCOL; on add, kBraidRouteProtocol
};

struct RtRoute {
  int family = AF_INET;
  uint32_t table = 0;             // RTA_TABLE (or rtm_table)
  uint8_t type = 0;               // RTN_*
  uint8_t protocol = 0;           // RTPROT_*
  uint8_t scope = 0;              // RT_SCOPE_*
  uint8_t tos = 0;
  uint8_t dst_len = 0;
  std::array<uint8_t, 16> dst{};  // network order; IPv4 uses the first 4 bytes
  bool has_priority = false;
  uint32_t priority = 0;          // RTA_PRIORITY (the metric; IPv6 routes always have one)
  int32_t oif = 0;                // RTA_OIF; 0 = none (multipath, blackhole, ...)
};

using RtError = NetlinkError;

class RtNetlink {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's netns.
  RtNetlink();
  ~RtNetlink();
  RtNetlink(const RtNetlink&) = delete;
  RtNetlink& operator=(const RtNetlink&) = delete;

  // RTM_GETRULE dump of one family (AF_INET or AF_INET6).
  std::vector<RtRule> ListRules(int family);
  // RTM_NEWRULE, exclusive (EEXIST when the same rule is there): `fwmark mark/mask lookup table`.
  void AddFwmarkRule(const RtRule& rule);
  // RTM_DELRULE of a rule as ListRules returned it (mark, mask, table, priority, action).
  void DeleteRule(const RtRule& rule);

  // RTM_GETROUTE dump of one family, keeping the routes of `table` only.
  std::vector<RtRoute> ListRoutes(int family, uint32_t table);
  // RTM_NEWROUTE, exclusive: `local 0.0.0.0/0 dev <ifindex> table <table>` (or ::/0).
  void AddLocalDefaultRoute(int family, uint32_t table, int ifindex);
  // RTM_DELROUTE of a route as ListRoutes returned it (prefix, table, type, metric).
  void DeleteRoute(const RtRoute& route);

  // RTM_GETLINK by name / by index, in the socket's netns (not the caller's current one).
  int LinkIndex(const std::string& name);
  // RTM_GETROUTE for one destination (family, addr in network order): the output interface the
  // kernel would use, 0 when it has no route.
  int RouteInterface(int family, const uint8_t* addr);
  std::string LinkName(int ifindex);

  void Close();  // idempotent; later calls throw RtError(EBADF)
  bool closed() const { return sock_.closed(); }

 private:
  nlmsghdr* StartRequest(char* buf, uint16_t type, uint16_t flags);

  NetlinkSocket sock_;
};

// "0.0.0.0/0", "2001:db8::/32": the destination of a route as `ip route` prints it.
std::string RtFormatPrefix(const RtRoute& route);

}  // namespace braid::kernel
