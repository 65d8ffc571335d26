// ICMPv6 (RFC 4443) echo and Neighbor Discovery's solicitation and advertisement (RFC 4861 4.3, 4.4)
// with the source/target link-layer address options (4.6.1). Other types parse as kUnsupported.
// The IP-level ND rules (hop limit 255, target not multicast, ...) belong to the interface.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "ustack/wire/error.h"
#include "ustack/wire/ethernet.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack::wire {

enum Icmpv6Type : std::uint8_t {
  kIcmpv6EchoRequest = 128,
  kIcmpv6EchoReply = 129,
  kIcmpv6NeighborSolicit = 135,
  kIcmpv6NeighborAdvert = 136,
};

// ND option types (RFC 4861 4.6).
enum NdOption : std::uint8_t { kNdOptSourceLinkAddr = 1, kNdOptTargetLinkAddr = 2 };

struct Icmpv6Repr {
  std::uint8_t type = kIcmpv6EchoRequest;
  // Echo request / reply.
  std::uint16_t ident = 0;
  std::uint16_t seq = 0;
  std::span<const std::uint8_t> data;
  // Neighbor solicitation / advertisement.
  IpAddress target;
  bool router = false;     // NA R flag
  bool solicited = false;  // NA S flag
  bool override_flag = false;  // NA O flag
  // Source link-layer address in an NS, target link-layer address in an NA; other options skipped.
  std::optional<MacAddress> lladdr;

  static WireError Parse(std::span<const std::uint8_t> message, const IpAddress& src, const IpAddress& dst,
                         ChecksumCheck check, Icmpv6Repr* out);
  std::size_t BufferLen() const;
  // Writes the message and its checksum over the IPv6 pseudo-header of (src, dst).
  WireError Emit(const IpAddress& src, const IpAddress& dst, std::span<std::uint8_t> message) const;
};

}  // namespace braid::ustack::wire
