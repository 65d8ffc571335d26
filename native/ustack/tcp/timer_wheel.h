// One hashed timer wheel per lcore: each connection has at most one deadline (the earliest of its
// timers), re-armed after every interaction. Single level; deadlines past the horizon wait in their
// slot and are skipped until due. Cancelling is lazy: stale slot entries are ignored and swept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ustack/wire/instant.h"

namespace braid::ustack {

class TimerWheel {
 public:
  explicit TimerWheel(Duration tick = Duration::Millis(1), std::size_t slots = 1024);

  // Sets (or moves) the deadline of `id`.
  void Schedule(std::uint32_t id, Instant deadline);
  void Cancel(std::uint32_t id);
  // Calls `fire` for every id whose deadline is <= now (after the sweep, so it may re-schedule).
  void Expire(Instant now, const std::function<void(std::uint32_t)>& fire);
  // The earliest pending deadline.
  std::optional<Instant> NextDeadline() const;
  std::size_t size() const { return live_.size(); }

 private:
  struct Entry {
    std::uint32_t id;
    Instant deadline;
  };
  std::int64_t TickOf(Instant t) const { return t.micros / tick_.micros; }
  bool Live(const Entry& e) const;
  Duration tick_;
  std::vector<std::vector<Entry>> slots_;
  std::unordered_map<std::uint32_t, Instant> live_;  // id -> current deadline
  std::int64_t cursor_ = 0;                          // first tick not yet fully expired
};

}  // namespace braid::ustack
