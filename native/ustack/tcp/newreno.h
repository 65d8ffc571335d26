// NewReno window arithmetic (RFC 5681 3.1 slow start and congestion avoidance with byte counting).
#pragma once

#include "ustack/tcp/congestion.h"

namespace braid::ustack {

class NewReno final : public CongestionControl {
 public:
  explicit NewReno(std::uint32_t mss) : CongestionControl(mss) {}
  const char* name() const override { return "newreno"; }
  void OnAck(Instant now, std::uint32_t acked, std::optional<Duration> srtt) override;
  void OnCongestionEvent(Instant now, std::uint32_t flight) override;
  void OnRetransmissionTimeout(Instant now, std::uint32_t flight, bool first) override;

 private:
  std::uint32_t acked_accumulator_ = 0;  // bytes acked since cwnd last grew by one SMSS in CA
};

}  // namespace braid::ustack
