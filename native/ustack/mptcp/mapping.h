// What the MPTCP option codec (mptcp/options.h) and the connection level (mptcp/ data path)
// exchange about data: a DSS mapping and a DATA_ACK, as plain values (RFC 8684 section 3.3).
#pragma once

#include <cstdint>
#include <optional>

namespace braid::ustack::mptcp {

// A data sequence mapping: `length` bytes starting at subflow sequence `ssn` (relative to the
// subflow's initial sequence number, as on the wire) carry connection-level data from `dsn`.
struct DssMapping {
  std::uint64_t dsn = 0;  // full 64-bit data sequence number (expanded from 32 bits if needed)
  std::uint32_t ssn = 0;  // relative subflow sequence number
  std::uint16_t length = 0;  // 0 with data_fin alone; 0 without it: the infinite mapping
  bool data_fin = false;
  std::optional<std::uint16_t> checksum;  // present when DSS checksums are negotiated
};

// The connection-level acknowledgement carried in a DSS option (always expanded to 64 bits).
struct DataAck {
  std::uint64_t ack = 0;
};

}  // namespace braid::ustack::mptcp
