#pragma once
// Per-connection MPTCP introspection: was MPTCP negotiated, and which subflows carry it.
// The installed uapi headers are older than the running kernel, so the structures used by
// MPTCP_FULL_INFO are declared here (layout from include/uapi/linux/mptcp.h, kernel >= 6.5).
#include <cstdint>
#include <string>
#include <vector>

namespace braid::kernel {

constexpr int kIpprotoMptcp = 262;
constexpr int kSolMptcp = 284;
constexpr int kTcpIsMptcp = 43;  // SOL_TCP: 1 while the socket runs MPTCP, 0 after fallback
constexpr int kMptcpFullInfo = 4;

struct SubflowSample {
  uint32_t id = 0;  // per-connection subflow id, stable for the subflow's life
  std::string local;
  std::string remote;
  std::string local_host;
  uint64_t bytes_sent = 0;      // tcpi_bytes_acked: payload the peer acknowledged on this subflow
  uint64_t bytes_received = 0;  // tcpi_bytes_received
  uint32_t rtt_us = 0;
};

// 1: MPTCP in use; 0: plain TCP (fallback or not an MPTCP socket); -1 on error (errno set).
int IsMptcp(int fd);

// Fills `out` with the current subflows. Returns false (errno set) when the socket has no
// MPTCP state (fallback: EOPNOTSUPP) or the kernel lacks MPTCP_FULL_INFO.
bool ReadSubflows(int fd, std::vector<SubflowSample>& out);

}  // namespace braid::kernel
