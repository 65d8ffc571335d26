#include "ustack/phy/memory_link.h"

#include <algorithm>
#include <deque>
#include <queue>
#include <random>
#include <vector>

namespace braid::ustack {

class MemoryLink::Pipe {
 public:
  Pipe(const LinkFaults& faults, std::uint64_t seed) : faults_(faults), rng_(seed) {}

  void Send(Instant now, std::span<const std::uint8_t> frame) {
    ++stats_.sent;
    if (Chance(faults_.loss)) {
      ++stats_.lost;
      return;
    }
    Instant depart = now;
    if (faults_.rate_bps > 0) {
      // Frames still waiting for the wire are those whose serialization starts after `now`.
      while (!waiting_.empty() && waiting_.front() <= now) waiting_.pop_front();
      if (waiting_.size() >= faults_.queue_limit) {
        ++stats_.queue_drops;
        return;
      }
      const std::int64_t bits = static_cast<std::int64_t>(frame.size()) * 8;
      const auto rate = static_cast<std::int64_t>(faults_.rate_bps);
      const Instant tx_start = std::max(now, wire_free_at_);
      if (tx_start > now) waiting_.push_back(tx_start);
      wire_free_at_ = tx_start + Duration{(bits * 1'000'000 + rate - 1) / rate};
      depart = wire_free_at_;  // the frame arrives once its last bit is on the wire
    }
    Instant arrival = depart + faults_.delay;
    if (Chance(faults_.reorder)) {
      ++stats_.reordered;
      arrival = arrival + faults_.reorder_delay;
    }
    Push(arrival, frame);
    if (Chance(faults_.duplicate)) {
      ++stats_.duplicated;
      Push(arrival, frame);
    }
  }

  std::size_t Deliver(Instant now, std::size_t max, const std::function<void(std::span<const std::uint8_t>)>& fn) {
    std::size_t n = 0;
    while (n < max && !queue_.empty() && queue_.top().arrival <= now) {
      // Moved out before the callback so it may transmit on this link (a reply) safely; the
      // const_cast is sound because the element is popped before the heap is touched again.
      std::vector<std::uint8_t> bytes = std::move(const_cast<Queued&>(queue_.top()).bytes);
      queue_.pop();
      ++stats_.delivered;
      ++n;
      fn(bytes);
    }
    return n;
  }

  std::optional<Instant> NextArrival() const {
    if (queue_.empty()) return std::nullopt;
    return queue_.top().arrival;
  }

  LinkStats stats_;
  LinkFaults faults_;

 private:
  struct Queued {
    Instant arrival;
    std::uint64_t order;  // ties keep transmit order
    std::vector<std::uint8_t> bytes;
    bool operator>(const Queued& o) const { return arrival != o.arrival ? arrival > o.arrival : order > o.order; }
  };
  bool Chance(double p) {
    if (p <= 0) return false;
    // 53 random bits -> [0, 1): the same on every platform, unlike std::uniform_real_distribution.
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p;
  }

  void Push(Instant arrival, std::span<const std::uint8_t> frame) {
    queue_.push(Queued{arrival, next_order_++, std::vector<std::uint8_t>(frame.begin(), frame.end())});
  }

  std::mt19937_64 rng_;
  Instant wire_free_at_{};
  std::uint64_t next_order_ = 0;
  std::deque<Instant> waiting_;  // serialization start times still ahead (rate limit only)
  std::priority_queue<Queued, std::vector<Queued>, std::greater<Queued>> queue_;
};

class MemoryLink::End : public Device {
 public:
  End(MacAddress mac, DeviceCapabilities caps, Pipe& out, Pipe& in) : mac_(mac), caps_(caps), out_(out), in_(in) {}
  MacAddress mac() const override { return mac_; }
  DeviceCapabilities capabilities() const override { return caps_; }
  std::size_t Receive(Instant now, std::size_t max,
                      const std::function<void(std::span<const std::uint8_t>)>& on_frame) override {
    return in_.Deliver(now, max, on_frame);
  }
  bool Transmit(Instant now, std::span<const std::uint8_t> frame) override {
    out_.Send(now, frame);
    return true;
  }

 private:
  MacAddress mac_;
  DeviceCapabilities caps_;
  Pipe& out_;
  Pipe& in_;
};

MemoryLink::MemoryLink(const Options& o)
    : ab_(std::make_unique<Pipe>(o.a_to_b, o.seed)),
      ba_(std::make_unique<Pipe>(o.b_to_a, o.seed ^ 0x9e3779b97f4a7c15ull)),
      a_(std::make_unique<End>(o.mac_a, o.caps, *ab_, *ba_)),
      b_(std::make_unique<End>(o.mac_b, o.caps, *ba_, *ab_)) {}

Device& MemoryLink::a() { return *a_; }
Device& MemoryLink::b() { return *b_; }
const LinkStats& MemoryLink::stats_a_to_b() const { return ab_->stats_; }
const LinkStats& MemoryLink::stats_b_to_a() const { return ba_->stats_; }
void MemoryLink::set_faults_a_to_b(const LinkFaults& f) { ab_->faults_ = f; }
void MemoryLink::set_faults_b_to_a(const LinkFaults& f) { ba_->faults_ = f; }

MemoryLink::~MemoryLink() = default;

std::optional<Instant> MemoryLink::NextArrival() const {
  auto x = ab_->NextArrival(), y = ba_->NextArrival();
  if (!x) return y;
  if (!y) return x;
  return std::min(*x, *y);
}

}  // namespace braid::ustack
