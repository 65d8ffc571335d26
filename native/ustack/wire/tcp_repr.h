// The parsed form of a TCP segment: what wire/ produces from bytes and what tcp/ consumes and emits.
// tcp/ never sees a header byte; wire/ never sees connection state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace braid::ustack {

// TCP header flag bits, as on the wire (RFC 9293 section 3.1, RFC 3168 for ECE/CWR).
enum TcpFlag : std::uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

struct TcpSackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number just past the block
};

struct TcpTimestamp {
  std::uint32_t value = 0;  // TSval
  std::uint32_t echo = 0;   // TSecr
};

struct TcpRepr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;  // meaningful only with kTcpAck
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire, not yet scaled
  std::uint16_t urgent = 0;

  // Options (RFC 9293 3.2, RFC 7323, RFC 2018). Absent options are nullopt / false / zero count.
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;
  bool sack_permitted = false;
  std::array<TcpSackBlock, 4> sack{};
  std::uint8_t sack_count = 0;
  std::optional<TcpTimestamp> timestamp;

  // The MPTCP hook (RFC 8684, option kind 30): each MPTCP option's bytes after kind and length,
  // passed through unparsed. On emit, the same spans are written as kind-30 options.
  static constexpr std::size_t kMaxMptcpOptions = 4;
  std::array<std::span<const std::uint8_t>, kMaxMptcpOptions> mptcp{};
  std::uint8_t mptcp_count = 0;

  std::span<const std::uint8_t> payload;

  bool has(TcpFlag f) const { return (flags & f) != 0; }
  // Sequence space the segment occupies: payload plus one for each of SYN and FIN.
  std::uint32_t segment_length() const {
    return static_cast<std::uint32_t>(payload.size()) + (has(kTcpSyn) ? 1 : 0) + (has(kTcpFin) ? 1 : 0);
  }
};

}  // namespace braid::ustack
