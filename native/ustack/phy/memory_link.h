// Two Devices joined by an in-memory wire, for protocol tests on simulated time. Each direction
// has its own seeded, deterministic faults: loss, duplication, reordering, a fixed delay and a
// rate limit with a bounded queue (tail drop). The same seed and the same calls give the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "ustack/phy/device.h"
#include "ustack/wire/instant.h"

namespace braid::ustack {

struct LinkFaults {
  double loss = 0;         // probability a frame is dropped
  double duplicate = 0;    // probability a frame is delivered a second time (right after the first)
  double reorder = 0;      // probability a frame is held back by reorder_delay, letting later ones pass
  Duration reorder_delay = Duration::Millis(1);
  Duration delay{};        // one-way propagation delay
  std::uint64_t rate_bps = 0;       // 0: no limit; otherwise frames serialize at this bit rate
  std::size_t queue_limit = 1000;   // frames waiting for the wire beyond this are tail-dropped
};

struct LinkStats {
  std::uint64_t sent = 0;         // frames handed to Transmit
  std::uint64_t delivered = 0;    // frames handed out by Receive (duplicates included)
  std::uint64_t lost = 0;         // dropped by `loss`
  std::uint64_t duplicated = 0;   // extra copies made by `duplicate`
  std::uint64_t reordered = 0;    // frames held back by `reorder`
  std::uint64_t queue_drops = 0;  // tail-dropped by the rate limiter's queue
};

class MemoryLink {
 public:
  struct Options {
    MacAddress mac_a{0x02, 0, 0, 0, 0, 0x0a};
    MacAddress mac_b{0x02, 0, 0, 0, 0, 0x0b};
    DeviceCapabilities caps{};  // both ends
    LinkFaults a_to_b{};
    LinkFaults b_to_a{};
    std::uint64_t seed = 1;
  };
  explicit MemoryLink(const Options& options);
  ~MemoryLink();
  MemoryLink(const MemoryLink&) = delete;
  MemoryLink& operator=(const MemoryLink&) = delete;

  Device& a();
  Device& b();
  const LinkStats& stats_a_to_b() const;
  const LinkStats& stats_b_to_a() const;
  // Faults may change mid-run (a path going lossy or dark); frames already in flight keep theirs.
  void set_faults_a_to_b(const LinkFaults& f);
  void set_faults_b_to_a(const LinkFaults& f);
  // The earliest time a frame in flight (either direction) becomes receivable: a simulation loop
  // advances its clock to the smaller of this and the stack's own deadline.
  std::optional<Instant> NextArrival() const;

  class Pipe;  // one direction; defined in memory_link.cc

 private:
  class End;
  std::unique_ptr<Pipe> ab_, ba_;
  std::unique_ptr<End> a_, b_;
};

}  // namespace braid::ustack
