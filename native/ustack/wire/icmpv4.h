// ICMP for IPv4 (RFC 792): echo request and reply only. Other types parse as kUnsupported, so the
// interface counts them instead of guessing at their layout.
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/error.h"

namespace braid::ustack::wire {

enum Icmpv4Type : std::uint8_t { kIcmpv4EchoReply = 0, kIcmpv4EchoRequest = 8 };

struct Icmpv4Repr {
  static constexpr std::size_t kHeaderLen = 8;
  std::uint8_t type = kIcmpv4EchoRequest;
  std::uint16_t ident = 0;
  std::uint16_t seq = 0;
  std::span<const std::uint8_t> data;  // echo data, returned unchanged in the reply

  static WireError Parse(std::span<const std::uint8_t> message, ChecksumCheck check, Icmpv4Repr* out);
  std::size_t BufferLen() const { return kHeaderLen + data.size(); }
  // Writes header, data and checksum. `message` may alias `data` only at the same offset.
  WireError Emit(std::span<std::uint8_t> message) const;
};

}  // namespace braid::ustack::wire
