// What every connection of one table shares: config, counters, the ISN secret, hooks back into the
// table. One per lcore, so no locks.
#pragma once

#include <cstdint>
#include <functional>

#include "ustack/tcp/counters.h"
#include "ustack/tcp/isn.h"
#include "ustack/tcp/tcp_config.h"
#include "ustack/tcp/tcp_types.h"

namespace braid::ustack {

struct TcpContext {
  TcpContext(TcpConfig c, IsnGenerator i) : config(std::move(c)), isn(std::move(i)) {}

  TcpConfig config;
  TcpCounters counters;
  IsnGenerator isn;
  // Set by the table: the connection has output due now (an application call made some).
  std::function<void(SocketId)> wake;
  // Optional: every state transition, for logs and tests.
  std::function<void(const FourTuple&, TcpState from, TcpState to)> trace;

  // RFC 5961 7: a global budget of challenge ACKs per second.
  bool AllowChallengeAck(Instant now) {
    std::int64_t second = now.micros / 1000000;
    if (second != challenge_second_) {
      challenge_second_ = second;
      challenge_count_ = 0;
    }
    if (challenge_count_ >= config.challenge_ack_limit) return false;
    ++challenge_count_;
    return true;
  }

 private:
  std::int64_t challenge_second_ = -1;
  std::uint32_t challenge_count_ = 0;
};

}  // namespace braid::ustack
