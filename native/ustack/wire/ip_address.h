// Addresses as the sans-IO core sees them: plain values, no socket or DPDK types.
#pragma once

#include <array>
#include <compare>
#include <cstdint>

namespace braid::ustack {

// An IPv4 address is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so one type covers
// both families and compares, hashes and sorts without a tag check.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    ip.bytes[12] = a;
    ip.bytes[13] = b;
    ip.bytes[14] = c;
    ip.bytes[15] = d;
    return ip;
  }
  bool is_v4() const {
    for (int i = 0; i < 10; ++i) {
      if (bytes[i] != 0) return false;
    }
    return bytes[10] == 0xff && bytes[11] == 0xff;
  }
  auto operator<=>(const IpAddress&) const = default;
};

// One end of a TCP connection.
struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  auto operator<=>(const Endpoint&) const = default;
};

// The four-tuple that names a connection, seen from this stack (local first).
struct FourTuple {
  Endpoint local;
  Endpoint remote;
  auto operator<=>(const FourTuple&) const = default;
};

}  // namespace braid::ustack
