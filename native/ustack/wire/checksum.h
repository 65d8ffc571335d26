// The Internet checksum (RFC 1071) and the pseudo-headers TCP, UDP and ICMPv6 sum over
// (RFC 9293 3.1 for IPv4, RFC 8200 8.1 for IPv6).
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/ip_address.h"

namespace braid::ustack::wire {

// One's-complement sum of 16-bit big-endian words, folded to 16 bits but not inverted, so partial
// sums over pieces can be combined with Combine. An odd trailing byte is padded with zero.
// `initial` carries a previous partial sum (the pseudo-header); pieces after the first must start
// on an even offset of the whole.
std::uint16_t Sum(std::span<const std::uint8_t> data, std::uint32_t initial = 0);
inline std::uint16_t Combine(std::uint16_t a, std::uint16_t b) {
  std::uint32_t s = std::uint32_t{a} + b;
  return static_cast<std::uint16_t>((s & 0xffff) + (s >> 16));
}
// The value to write into a checksum field: the complement of the sum.
inline std::uint16_t Finish(std::uint16_t sum) { return static_cast<std::uint16_t>(~sum); }

// Partial sum of the pseudo-header for an upper-layer packet of `length` bytes (header + data) with
// the given protocol / next header. Both addresses must be of one family (IpAddress::is_v4).
std::uint16_t PseudoHeaderSum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                              std::uint32_t length);

// Checksum over pseudo-header plus the packet as it stands (its checksum field included): a
// received packet verifies when this returns 0.
inline std::uint16_t UpperLayerChecksum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                                        std::span<const std::uint8_t> packet) {
  return Finish(Sum(packet, PseudoHeaderSum(src, dst, protocol, static_cast<std::uint32_t>(packet.size()))));
}

}  // namespace braid::ustack::wire
