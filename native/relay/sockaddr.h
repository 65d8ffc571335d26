#pragma once
// Numeric socket addresses: parse "host"+port into sockaddr_storage, format back as
// "198.18.1.1:80" / "[2001:2::1]:80". No name resolution here: the control plane validates.
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace braid::relay {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// Returns false when host is not a numeric IPv4/IPv6 literal.
bool ParseSocketAddress(const std::string& host, uint16_t port, SocketAddress& out);
std::string FormatHost(const sockaddr* sa);
uint16_t PortOf(const sockaddr* sa);
std::string FormatSocketAddress(const sockaddr* sa);
inline std::string FormatSocketAddress(const SocketAddress& a) { return FormatSocketAddress(a.get()); }

}  // namespace braid::relay
