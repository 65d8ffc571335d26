// Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4, RFC 1982 serial numbers).
// Plain uint32_t values compared through these helpers; never compare sequence numbers with `<`.
#pragma once

#include <cstdint>

namespace braid::ustack {

inline bool SeqLt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
inline bool SeqLe(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) <= 0; }
inline bool SeqGt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }
inline bool SeqGe(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) >= 0; }
inline std::uint32_t SeqMax(std::uint32_t a, std::uint32_t b) { return SeqGt(a, b) ? a : b; }
inline std::uint32_t SeqMin(std::uint32_t a, std::uint32_t b) { return SeqLt(a, b) ? a : b; }
// a <= x < b in sequence space.
inline bool SeqInRange(std::uint32_t x, std::uint32_t a, std::uint32_t b) { return SeqLe(a, x) && SeqLt(x, b); }

}  // namespace braid::ustack
