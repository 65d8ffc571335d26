// Retransmission timeout per RFC 6298: SRTT/RTTVAR smoothing, RTO = SRTT + max(G, 4*RTTVAR),
// exponential backoff on expiry (5.5), clamped to [min, max]. The minimum is Linux's 200 ms
// (TCP_RTO_MIN) rather than RFC 6298's 1 s, by config. Karn's rule (no samples from retransmitted
// segments) is the caller's job: it only samples with timestamps or an untouched timed segment.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ustack/wire/instant.h"

namespace braid::ustack {

class RttEstimator {
 public:
  RttEstimator(Duration initial, Duration min, Duration max) : rto_(initial), min_(min), max_(max) {}

  void Sample(Duration rtt) {
    std::int64_t r = std::max<std::int64_t>(rtt.micros, 0);
    if (!has_sample_) {
      srtt_ = r;  // RFC 6298 2.2
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {  // RFC 6298 2.3, beta = 1/4, alpha = 1/8
      std::int64_t err = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (3 * rttvar_ + err) / 4;
      srtt_ = (7 * srtt_ + r) / 8;
    }
    rto_ = Duration{srtt_ + std::max<std::int64_t>(kGranularity, 4 * rttvar_)};
    backoff_ = 0;
  }
  // RFC 6298 5.5: double the RTO after a timeout.
  void Backoff() {
    if (backoff_ < 16) ++backoff_;
  }
  void ResetBackoff() { backoff_ = 0; }
  Duration rto() const {
    std::int64_t base = std::clamp(rto_.micros, min_.micros, max_.micros);
    std::int64_t v = base;
    for (int i = 0; i < backoff_ && v < max_.micros; ++i) v *= 2;
    return Duration{std::min(v, max_.micros)};
  }
  bool has_sample() const { return has_sample_; }
  Duration srtt() const { return Duration{srtt_}; }
  Duration rttvar() const { return Duration{rttvar_}; }
  int backoff() const { return backoff_; }

 private:
  static constexpr std::int64_t kGranularity = 1000;  // G: the timestamp clock ticks in milliseconds
  Duration rto_;
  Duration min_;
  Duration max_;
  std::int64_t srtt_ = 0;
  std::int64_t rttvar_ = 0;
  bool has_sample_ = false;
  int backoff_ = 0;
};

}  // namespace braid::ustack
