// IPv4 headers (RFC 791). Options are accepted and skipped on parse, never emitted. Fragments parse
// (their fields are in the Repr) so the interface can count and drop them: this stack does not reassemble.
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/error.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack::wire {

class Ipv4Packet {
 public:
  static constexpr std::size_t kMinHeaderLen = 20;
  explicit Ipv4Packet(std::span<const std::uint8_t> bytes) : b_(bytes) {}
  // Version, IHL and total length against the buffer; not the checksum.
  WireError Check() const;
  std::uint8_t version() const { return b_[0] >> 4; }
  std::size_t header_len() const { return std::size_t{b_[0] & 0x0fu} * 4; }
  std::uint8_t dscp_ecn() const { return b_[1]; }
  std::uint16_t total_len() const;
  std::uint16_t ident() const;
  bool dont_fragment() const { return (b_[6] & 0x40) != 0; }
  bool more_fragments() const { return (b_[6] & 0x20) != 0; }
  std::uint16_t frag_offset() const;  // in 8-byte units
  std::uint8_t ttl() const { return b_[8]; }
  std::uint8_t protocol() const { return b_[9]; }
  IpAddress src() const { return IpAddress::V4(b_[12], b_[13], b_[14], b_[15]); }
  IpAddress dst() const { return IpAddress::V4(b_[16], b_[17], b_[18], b_[19]); }
  bool checksum_ok() const;
  // Bytes past the header up to total length (Ethernet padding beyond it is cut off).
  std::span<const std::uint8_t> payload() const { return b_.subspan(header_len(), total_len() - header_len()); }

 private:
  std::span<const std::uint8_t> b_;
};

struct Ipv4Repr {
  IpAddress src;
  IpAddress dst;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 64;
  std::uint8_t dscp_ecn = 0;
  std::uint16_t ident = 0;
  bool dont_fragment = true;
  bool more_fragments = false;     // parse only; Emit never fragments
  std::uint16_t frag_offset = 0;   // parse only
  std::uint16_t payload_len = 0;   // bytes after the header
  std::span<const std::uint8_t> payload;  // set by Parse

  static WireError Parse(std::span<const std::uint8_t> packet, ChecksumCheck check, Ipv4Repr* out);
  static constexpr std::size_t HeaderLen() { return Ipv4Packet::kMinHeaderLen; }
  std::size_t BufferLen() const { return HeaderLen() + payload_len; }
  // Writes the 20-byte header with its checksum; the payload goes at packet.subspan(HeaderLen()).
  WireError Emit(std::span<std::uint8_t> packet) const;
};

}  // namespace braid::ustack::wire
