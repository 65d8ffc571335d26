#include "ustack/tcp/cubic.h"

#include <algorithm>
#include <cmath>


namespace braid::ustack {

void Cubic::OnAck(Instant now, std::uint32_t acked, std::optional<Duration> srtt) {
  if (in_slow_start()) {
    SlowStart(acked);
    return;
  }
  double mss = mss_;
  double cwnd = cwnd_ / mss;
  if (!epoch_start_) {
    // RFC 9438 4.2: a congestion-avoidance epoch starts on the first ACK after a reduction (or after
    // slow start ended without loss, in which case W_max is the current window and K = 0).
    epoch_start_ = now;
    cwnd_epoch_ = cwnd;
    w_est_ = cwnd;
    if (w_max_ < cwnd) w_max_ = cwnd;
    k_ = std::cbrt((w_max_ - cwnd_epoch_) / kC);
  }
  double rtt = srtt ? static_cast<double>(srtt->micros) / 1e6 : 0.1;
  double t = static_cast<double>((now - *epoch_start_).micros) / 1e6;
  // RFC 9438 (2): W_cubic(t) = C*(t-K)^3 + W_max, evaluated one RTT ahead as the target (4.4).
  double d = t + rtt - k_;
  double target = kC * d * d * d + w_max_;
  target = std::clamp(target, cwnd, 1.5 * cwnd);
  // RFC 9438 4.3: W_est grows like Reno with alpha_cubic = 3(1-beta)/(1+beta) per window.
  double alpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);
  w_est_ += alpha * (static_cast<double>(acked) / mss) / cwnd;
  double next;
  if (kC * (t - k_) * (t - k_) * (t - k_) + w_max_ < w_est_) {
    next = w_est_;  // Reno-friendly region
  } else {
    next = cwnd + (target - cwnd) * (static_cast<double>(acked) / mss) / cwnd;  // RFC 9438 4.4/4.5
  }
  next = std::max(next, cwnd);
  cwnd_ = static_cast<std::uint32_t>(std::min(next * mss, 4.0e9));
}

void Cubic::Reduce() {
  double cwnd = static_cast<double>(cwnd_) / mss_;
  // RFC 9438 4.7 fast convergence: release bandwidth when the window shrank since the last event.
  w_max_ = cwnd < w_max_ ? cwnd * (1.0 + kBeta) / 2.0 : cwnd;
  double reduced = std::max(cwnd * kBeta, 2.0);
  ssthresh_ = static_cast<std::uint32_t>(reduced * mss_);
  epoch_start_.reset();
}

void Cubic::OnCongestionEvent(Instant, std::uint32_t) {
  Reduce();  // RFC 9438 4.6: ssthresh = cwnd * beta_cubic
  cwnd_ = ssthresh_;
}

void Cubic::OnRetransmissionTimeout(Instant, std::uint32_t, bool first) {
  if (first) Reduce();
  cwnd_ = mss_;  // RFC 9438 4.8: as RFC 5681, then slow start up to ssthresh
  epoch_start_.reset();
}

}  // namespace braid::ustack
