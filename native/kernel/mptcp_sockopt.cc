#include "kernel/mptcp_sockopt.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "relay/sockaddr.h"

namespace braid::kernel {
namespace {

struct SubflowAddrs {
  sockaddr_storage local;
  sockaddr_storage remote;
};

struct SubflowInfo {
  uint32_t id;
  SubflowAddrs addrs;
};

struct FullInfo {
  uint32_t size_tcpinfo_kernel;
  uint32_t size_tcpinfo_user;
  uint32_t size_sfinfo_kernel;
  uint32_t size_sfinfo_user;
  uint32_t num_subflows;
  uint32_t size_arrays_user;
  alignas(8) uint64_t subflow_info;
  alignas(8) uint64_t tcp_info;
  // struct mptcp_info follows; we pass no room for it (the kernel copies only what fits).
};

constexpr unsigned kMaxSubflows = 16;

}  // namespace

int IsMptcp(int fd) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, IPPROTO_TCP, kTcpIsMptcp, &value, &len) != 0) return -1;
  return value != 0 ? 1 : 0;
}

bool ReadSubflows(int fd, std::vector<SubflowSample>& out) {
  out.clear();
  SubflowInfo sf[kMaxSubflows];
  tcp_info ti[kMaxSubflows];
  std::memset(sf, 0, sizeof(sf));
  std::memset(ti, 0, sizeof(ti));
  FullInfo fi{};
  fi.size_tcpinfo_user = sizeof(tcp_info);
  fi.size_sfinfo_user = sizeof(SubflowInfo);
  fi.size_arrays_user = kMaxSubflows;
  fi.subflow_info = reinterpret_cast<uintptr_t>(sf);
  fi.tcp_info = reinterpret_cast<uintptr_t>(ti);
  socklen_t len = sizeof(fi);
  if (getsockopt(fd, kSolMptcp, kMptcpFullInfo, &fi, &len) != 0) return false;
  const unsigned n = fi.num_subflows < kMaxSubflows ? fi.num_subflows : kMaxSubflows;
  out.reserve(n);
  for (unsigned i = 0; i < n; i++) {
    SubflowSample s;
    s.id = sf[i].id;
    const auto* local = reinterpret_cast<const sockaddr*>(&sf[i].addrs.local);
    const auto* remote = reinterpret_cast<const sockaddr*>(&sf[i].addrs.remote);
    s.local = relay::FormatSocketAddress(local);
    s.remote = relay::FormatSocketAddress(remote);
    s.local_host = relay::FormatHost(local);
    s.bytes_sent = ti[i].tcpi_bytes_acked;
    s.bytes_received = ti[i].tcpi_bytes_received;
    s.rtt_us = ti[i].tcpi_rtt;
    out.push_back(std::move(s));
  }
  return true;
}

}  // namespace braid::kernel
