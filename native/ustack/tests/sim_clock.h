// Simulated time for tests of whole stacks (Stack, MptcpStack) over MemoryLinks: every step polls
// each stack at `now`, runs the test's application step, and jumps the clock to the earliest stack
// deadline or frame arrival. A multi-megabyte lossy transfer takes milliseconds of wall time.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "ustack/phy/memory_link.h"
#include "ustack/wire/instant.h"

namespace braid::ustack::sim {

class SimClock {
 public:
  explicit SimClock(Instant start = Instant::FromMillis(1000)) : now_(start) {}

  // Anything with Poll(Instant) and NextDeadline() (a Stack, an MptcpStack); it must outlive the clock.
  template <class S>
  void AddStack(S& s) {
    polls_.push_back([&s](Instant now) { s.Poll(now); });
    wakes_.push_back([&s]() -> std::optional<Instant> { return s.NextDeadline(); });
  }
  void AddLink(const MemoryLink& link) {
    wakes_.push_back([&link] { return link.NextArrival(); });
  }

  Instant now() const { return now_; }

  // Steps (polls, then `app`) until done() holds: true. When nothing is due any more, or only after
  // `deadline`, the answer is done()'s; after `max_steps` steps it is false.
  bool RunUntil(const std::function<bool()>& done, const std::function<void()>& app, Instant deadline,
                int max_steps = 5'000'000) {
    for (int step = 0; step < max_steps; ++step) {
      for (const auto& poll : polls_) poll(now_);
      if (app) app();
      if (done()) return true;
      std::optional<Instant> next;
      for (const auto& wake : wakes_) {
        const std::optional<Instant> t = wake();
        if (t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > deadline) return done();
      if (*next > now_) now_ = *next;
    }
    return false;
  }

 private:
  Instant now_;
  std::vector<std::function<void(Instant)>> polls_;
  std::vector<std::function<std::optional<Instant>()>> wakes_;
};

}  // namespace braid::ustack::sim
