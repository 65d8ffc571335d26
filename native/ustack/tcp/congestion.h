// Congestion control behind one small interface (the shape of Linux's tcp_congestion_ops, cut down).
// The connection owns loss detection and recovery (RFC 6582 / RFC 6675); an algorithm only decides
// cwnd and ssthresh at these four events. CUBIC (RFC 9438) is the default, NewReno (RFC 5681) the
// other. Windows are in bytes.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "ustack/wire/instant.h"

namespace braid::ustack {

enum class CongestionAlgorithm : std::uint8_t { kCubic, kNewReno };

class CongestionControl {
 public:
  explicit CongestionControl(std::uint32_t mss) : mss_(mss), cwnd_(kInitialWindowSegments * mss) {}
  virtual ~CongestionControl() = default;
  virtual const char* name() const = 0;

  // `acked` new bytes were cumulatively acknowledged outside loss recovery. `srtt` is the current
  // smoothed RTT when one exists.
  virtual void OnAck(Instant now, std::uint32_t acked, std::optional<Duration> srtt) = 0;
  // Loss found by duplicate ACKs or SACK: fast recovery begins (once per window of data).
  virtual void OnCongestionEvent(Instant now, std::uint32_t flight) = 0;
  // A full ACK ended fast recovery.
  virtual void OnRecoveryExit(Instant now) { (void)now; cwnd_ = ssthresh_; }
  // The retransmission timer fired; `first` is false for back-to-back expiries of the same data,
  // which must not shrink ssthresh again (RFC 5681 3.1, equation 4 applies once).
  virtual void OnRetransmissionTimeout(Instant now, std::uint32_t flight, bool first) = 0;

  // RFC 5681 3.1: the MSS is only known after the handshake; windows set in segments follow it.
  void set_mss(std::uint32_t mss) {
    if (cwnd_ == kInitialWindowSegments * mss_) cwnd_ = kInitialWindowSegments * mss;
    mss_ = mss;
  }
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  std::uint32_t mss() const { return mss_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

 protected:
  // RFC 6928 initial window of ten segments, as Linux.
  static constexpr std::uint32_t kInitialWindowSegments = 10;
  // RFC 3465 L = 2*SMSS: slow start grows by at most two segments per ACK.
  void SlowStart(std::uint32_t acked) {
    std::uint32_t inc = acked < 2 * mss_ ? acked : 2 * mss_;
    cwnd_ = cwnd_ + inc > ssthresh_ && ssthresh_ > cwnd_ ? ssthresh_ : cwnd_ + inc;
  }
  std::uint32_t mss_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = std::numeric_limits<std::uint32_t>::max();
};

std::unique_ptr<CongestionControl> MakeCongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss);
const char* CongestionAlgorithmName(CongestionAlgorithm algorithm);

}  // namespace braid::ustack
