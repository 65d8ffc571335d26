#include "ustack/tcp/timer_wheel.h"

#include <algorithm>

namespace braid::ustack {

TimerWheel::TimerWheel(Duration tick, std::size_t slots) : tick_(tick), slots_(std::max<std::size_t>(slots, 1)) {}

bool TimerWheel::Live(const Entry& e) const {
  auto it = live_.find(e.id);
  return it != live_.end() && it->second == e.deadline;
}

void TimerWheel::Schedule(std::uint32_t id, Instant deadline) {
  auto [it, inserted] = live_.try_emplace(id, deadline);
  if (!inserted) {
    if (it->second == deadline) return;
    it->second = deadline;
  }
  // A deadline already behind the cursor goes into the cursor's slot so the next Expire sees it.
  std::int64_t tick = std::max(TickOf(deadline), cursor_);
  slots_[static_cast<std::size_t>(tick % static_cast<std::int64_t>(slots_.size()))].push_back(Entry{id, deadline});
}

void TimerWheel::Cancel(std::uint32_t id) { live_.erase(id); }

void TimerWheel::Expire(Instant now, const std::function<void(std::uint32_t)>& fire) {
  std::int64_t now_tick = TickOf(now);
  if (now_tick < cursor_) return;
  std::vector<std::uint32_t> due;
  std::int64_t n = static_cast<std::int64_t>(slots_.size());
  std::int64_t last = std::min(now_tick, cursor_ + n - 1);  // a full turn visits every slot once
  for (std::int64_t t = cursor_; t <= last; ++t) {
    auto& slot = slots_[static_cast<std::size_t>(t % n)];
    std::size_t keep = 0;
    for (std::size_t i = 0; i < slot.size(); ++i) {
      const Entry& e = slot[i];
      if (!Live(e)) continue;
      if (e.deadline <= now) {
        live_.erase(e.id);
        due.push_back(e.id);
        continue;
      }
      slot[keep++] = e;
    }
    slot.resize(keep);
  }
  // The slot of `now_tick` may still hold later deadlines in the same tick: revisit it next time.
  cursor_ = now_tick;
  for (std::uint32_t id : due) fire(id);
}

std::optional<Instant> TimerWheel::NextDeadline() const {
  if (live_.empty()) return std::nullopt;
  std::int64_t n = static_cast<std::int64_t>(slots_.size());
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t t = cursor_ + k;
    Instant window_end{(t + 1) * tick_.micros};
    std::optional<Instant> best;
    for (const Entry& e : slots_[static_cast<std::size_t>(t % n)]) {
      if (e.deadline < window_end && Live(e) && (!best || e.deadline < *best)) best = e.deadline;
    }
    if (best) return best;
  }
  // Everything is beyond one turn of the wheel: rare, so a scan is fine.
  Instant best = live_.begin()->second;
  for (const auto& [id, d] : live_) best = std::min(best, d);
  return best;
}

}  // namespace braid::ustack
