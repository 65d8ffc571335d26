// CUBIC (RFC 9438): window growth as a cubic function of time since the last congestion event, with
// the Reno-friendly region (4.3) and fast convergence (4.7). beta_cubic = 0.7, C = 0.4.
#pragma once

#include <optional>

#include "ustack/tcp/congestion.h"

namespace braid::ustack {

class Cubic final : public CongestionControl {
 public:
  explicit Cubic(std::uint32_t mss) : CongestionControl(mss) {}
  const char* name() const override { return "cubic"; }
  void OnAck(Instant now, std::uint32_t acked, std::optional<Duration> srtt) override;
  void OnCongestionEvent(Instant now, std::uint32_t flight) override;
  void OnRetransmissionTimeout(Instant now, std::uint32_t flight, bool first) override;

  static constexpr double kBeta = 0.7;
  static constexpr double kC = 0.4;

 private:
  void Reduce();
  double w_max_ = 0;       // segments, window before the last reduction
  double w_est_ = 0;       // segments, the Reno-friendly estimate (RFC 9438 4.3)
  double k_ = 0;           // seconds until the cubic reaches w_max_ again
  std::optional<Instant> epoch_start_;
  double cwnd_epoch_ = 0;  // segments at the epoch start
};

}  // namespace braid::ustack
