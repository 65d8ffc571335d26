#include "ustack/tcp/newreno.h"

#include <algorithm>

namespace braid::ustack {

void NewReno::OnAck(Instant, std::uint32_t acked, std::optional<Duration>) {
  if (in_slow_start()) {
    SlowStart(acked);
    return;
  }
  // RFC 5681 3.1, appropriate byte counting (RFC 3465): one SMSS per cwnd of acknowledged bytes.
  acked_accumulator_ += acked;
  if (acked_accumulator_ >= cwnd_) {
    acked_accumulator_ -= cwnd_;
    cwnd_ += mss_;
  }
}

void NewReno::OnCongestionEvent(Instant, std::uint32_t flight) {
  // RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS).
  ssthresh_ = std::max(flight / 2, 2 * mss_);
  cwnd_ = ssthresh_;
  acked_accumulator_ = 0;
}

void NewReno::OnRetransmissionTimeout(Instant, std::uint32_t flight, bool first) {
  if (first) ssthresh_ = std::max(flight / 2, 2 * mss_);
  cwnd_ = mss_;  // RFC 5681: loss window of one segment
  acked_accumulator_ = 0;
}

}  // namespace braid::ustack
