#include "relay/conn_facts.h"

#include <sys/socket.h>

#include "kernel/mptcp_sockopt.h"
#include "relay/sockaddr.h"

namespace braid::relay {
namespace {

constexpr int kMptcpInfo = 1;  // SOL_MPTCP

// The head of struct mptcp_info (include/uapi/linux/mptcp.h, unchanged since 5.16); the kernel
// copies only as much as we pass.
struct MptcpInfoHead {
  uint8_t subflows;
  uint8_t add_addr_signal;
  uint8_t add_addr_accepted;
  uint8_t subflows_max;
  uint8_t add_addr_signal_max;
  uint8_t add_addr_accepted_max;
  uint32_t flags;
  uint32_t token;
};

std::string Format(int fd, int (*call)(int, sockaddr*, socklen_t*)) {
  SocketAddress a;
  a.length = sizeof(a.storage);
  if (fd < 0 || call(fd, a.get(), &a.length) != 0) return "";
  return FormatSocketAddress(a);
}

}  // namespace

uint32_t ReadMptcpToken(int fd) {
  MptcpInfoHead info{};
  socklen_t len = sizeof(info);
  if (fd < 0 || getsockopt(fd, kernel::kSolMptcp, kMptcpInfo, &info, &len) != 0) return 0;
  if (len < sizeof(info)) return 0;
  return info.token;
}

std::string LocalAddressOf(int fd) { return Format(fd, getsockname); }
std::string PeerAddressOf(int fd) { return Format(fd, getpeername); }

}  // namespace braid::relay
