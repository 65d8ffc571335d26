// The TCP codec (RFC 9293 3.1): bytes <-> TcpRepr (tcp_repr.h). Parse points the Repr's payload and
// MPTCP spans into the input, so the input must outlive the Repr. Options: MSS (RFC 9293 3.2),
// window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018), MPTCP raw (RFC 8684);
// unknown kinds are skipped; a known kind with a wrong length, or any option running past the
// header, is malformed (kBadOption).
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/error.h"
#include "ustack/wire/ip_address.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack::wire {

// Option kinds (IANA "TCP Option Kind Numbers"), and their fixed lengths where they have one.
enum TcpOptionKind : std::uint8_t {
  kTcpOptEnd = 0,
  kTcpOptNop = 1,
  kTcpOptMss = 2,
  kTcpOptWindowScale = 3,
  kTcpOptSackPermitted = 4,
  kTcpOptSack = 5,
  kTcpOptTimestamp = 8,
  kTcpOptMptcp = 30,
};
inline constexpr std::uint8_t kTcpOptLenMss = 4;
inline constexpr std::uint8_t kTcpOptLenWindowScale = 3;
inline constexpr std::uint8_t kTcpOptLenSackPermitted = 2;
inline constexpr std::uint8_t kTcpOptLenTimestamp = 10;
inline constexpr std::uint8_t kTcpOptLenMptcpMin = 3;  // kind, length, subtype nibble

inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxOptionsLen = 40;

// Read-only view of a segment's fixed header.
class TcpPacket {
 public:
  explicit TcpPacket(std::span<const std::uint8_t> bytes) : b_(bytes) {}
  WireError Check() const;  // header length against the buffer
  std::uint16_t src_port() const;
  std::uint16_t dst_port() const;
  std::uint32_t seq() const;
  std::uint32_t ack() const;
  std::size_t header_len() const { return static_cast<std::size_t>(b_[12] >> 4) * 4; }
  std::uint8_t flags() const { return b_[13]; }
  std::uint16_t window() const;
  std::uint16_t checksum() const;
  std::uint16_t urgent() const;
  std::span<const std::uint8_t> options() const { return b_.subspan(kTcpMinHeaderLen, header_len() - kTcpMinHeaderLen); }
  std::span<const std::uint8_t> payload() const { return b_.subspan(header_len()); }

 private:
  std::span<const std::uint8_t> b_;
};

// `segment` is the whole IP payload (header and data); src/dst are the IP addresses for the
// pseudo-header.
WireError ParseTcp(std::span<const std::uint8_t> segment, const IpAddress& src, const IpAddress& dst,
                   ChecksumCheck check, TcpRepr* out);
// Header length the Repr's options need (20 + padded options; may exceed 60, then Emit fails).
std::size_t TcpHeaderLen(const TcpRepr& repr);
std::size_t TcpBufferLen(const TcpRepr& repr);
// Writes header, options, payload (copied unless it already sits at the right place) and checksum.
WireError EmitTcp(const TcpRepr& repr, const IpAddress& src, const IpAddress& dst, std::span<std::uint8_t> segment);

}  // namespace braid::ustack::wire
