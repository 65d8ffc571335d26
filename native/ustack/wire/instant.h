// Time as the sans-IO core sees it: a monotonic microsecond count handed in by the caller.
// Simulations advance it by hand; the DPDK loop reads the TSC.
#pragma once

#include <compare>
#include <cstdint>

namespace braid::ustack {

struct Instant {
  std::int64_t micros = 0;
  auto operator<=>(const Instant&) const = default;
  static Instant FromMillis(std::int64_t ms) { return Instant{ms * 1000}; }
};

struct Duration {
  std::int64_t micros = 0;
  auto operator<=>(const Duration&) const = default;
  static Duration Millis(std::int64_t ms) { return Duration{ms * 1000}; }
};

inline Instant operator+(Instant t, Duration d) { return Instant{t.micros + d.micros}; }
inline Duration operator-(Instant a, Instant b) { return Duration{a.micros - b.micros}; }

}  // namespace braid::ustack
