// IPv6 fixed headers (RFC 8200). Extension headers are not walked: the Repr reports the first next
// header, and the interface drops what it does not handle (a hop-by-hop header included).
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/error.h"
#include "ustack/wire/ethernet.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack::wire {

class Ipv6Packet {
 public:
  static constexpr std::size_t kHeaderLen = 40;
  explicit Ipv6Packet(std::span<const std::uint8_t> bytes) : b_(bytes) {}
  WireError Check() const;
  std::uint8_t version() const { return b_[0] >> 4; }
  std::uint8_t traffic_class() const { return static_cast<std::uint8_t>((b_[0] << 4) | (b_[1] >> 4)); }
  std::uint32_t flow_label() const;
  std::uint16_t payload_len() const;
  std::uint8_t next_header() const { return b_[6]; }
  std::uint8_t hop_limit() const { return b_[7]; }
  IpAddress src() const { return Addr(8); }
  IpAddress dst() const { return Addr(24); }
  std::span<const std::uint8_t> payload() const { return b_.subspan(kHeaderLen, payload_len()); }

 private:
  IpAddress Addr(std::size_t at) const;
  std::span<const std::uint8_t> b_;
};

struct Ipv6Repr {
  IpAddress src;
  IpAddress dst;
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
  std::uint16_t payload_len = 0;
  std::span<const std::uint8_t> payload;  // set by Parse

  // Jumbograms (payload length 0 with a hop-by-hop option) are not supported: they parse as empty.
  static WireError Parse(std::span<const std::uint8_t> packet, Ipv6Repr* out);
  static constexpr std::size_t HeaderLen() { return Ipv6Packet::kHeaderLen; }
  std::size_t BufferLen() const { return HeaderLen() + payload_len; }
  WireError Emit(std::span<std::uint8_t> packet) const;
};

// Well-known IPv6 address helpers (RFC 4291).
bool IsMulticast(const IpAddress& a);  // ff00::/8 (false for IPv4-mapped)
bool IsUnspecified(const IpAddress& a);  // ::
bool IsLinkLocal(const IpAddress& a);  // fe80::/10
// ff02::1:ffXX:XXXX for the low 24 bits of `a` (RFC 4291 2.7.1).
IpAddress SolicitedNodeMulticast(const IpAddress& a);
// 33:33 plus the low 32 bits of a multicast address (RFC 2464 7).
MacAddress MulticastMac(const IpAddress& a);
// fe80::/64 with a modified EUI-64 interface identifier from the MAC (RFC 4291 appendix A).
IpAddress LinkLocalFromMac(const MacAddress& mac);

}  // namespace braid::ustack::wire
