// Connection-level (data) sequence numbers: 64-bit, compared modulo 2^64, and the expansion of a
// 32-bit DSN or DATA_ACK into 64 bits (RFC 8684 section 3.3.1; Linux protocol.h __mptcp_expand_seq).
#pragma once

#include <cstdint>

namespace braid::ustack::mptcp {

// 64-bit serial comparison, as Linux's before64/after64: never compare DSNs with `<`.
inline bool DsnLt(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a - b) < 0; }
inline bool DsnLe(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a - b) <= 0; }
inline bool DsnGt(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a - b) > 0; }
inline bool DsnGe(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a - b) >= 0; }
inline std::uint64_t DsnMax(std::uint64_t a, std::uint64_t b) { return DsnGt(a, b) ? a : b; }
inline std::uint64_t DsnMin(std::uint64_t a, std::uint64_t b) { return DsnLt(a, b) ? a : b; }

// The 64-bit value whose low 32 bits are `low32` and which lies nearest `reference` (within 2^31
// either way): the upper half of `reference`, plus or minus one wrap when the low halves show that
// the sequence crossed a 2^32 boundary forwards or backwards. `reference` is the receiver's
// DATA_ACK (RCV.NXT at the connection level) for an incoming DSN, and the sender's DATA_UNA for an
// incoming DATA_ACK, as Linux does.
std::uint64_t ExpandSeq(std::uint64_t reference, std::uint32_t low32);

// A value from a DSS option: taken whole when the option carried 64 bits, else expanded.
inline std::uint64_t ExpandDsn(std::uint64_t reference, std::uint64_t value, bool is_64bit) {
  return is_64bit ? value : ExpandSeq(reference, static_cast<std::uint32_t>(value));
}

}  // namespace braid::ustack::mptcp
