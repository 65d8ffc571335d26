#pragma once
// Facts about a connection's sockets that the NUMA control loop matches against: the MPTCP token
// (what the userspace path manager's events and commands name a connection by) and the addresses
// of the socket facing the local application (to find the process that owns its other end).
#include <cstdint>
#include <string>

namespace braid::relay {

// mptcpi_token from MPTCP_INFO; 0 when the socket is not MPTCP or fell back to TCP.
uint32_t ReadMptcpToken(int fd);
// "ip:port" of getsockname() / getpeername(); "" when the call fails (e.g. not connected yet).
std::string LocalAddressOf(int fd);
std::string PeerAddressOf(int fd);

}  // namespace braid::relay
