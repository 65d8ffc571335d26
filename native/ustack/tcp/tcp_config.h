// Per-table TCP settings. Defaults follow Linux where it and the RFCs differ, and say so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "ustack/tcp/congestion.h"
#include "ustack/wire/instant.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack {

struct TcpConfig {
  std::uint16_t mss = 1460;                  // MSS we advertise and the cap on what we send over IPv4
                                             // (MTU 1500); IPv6 connections use 20 bytes less
  std::size_t rx_buffer = 256 * 1024;        // receive buffer per connection: bounds the window
  std::size_t tx_buffer = 256 * 1024;        // send buffer per connection
  bool window_scaling = true;                // RFC 7323 2
  bool sack = true;                          // RFC 2018 / RFC 6675
  bool timestamps = true;                    // RFC 7323 3 (RTTM) and 5 (PAWS)
  bool nodelay = false;                      // true disables Nagle (RFC 9293 3.7.4)
  bool tail_loss_probe = true;               // RFC 8985 7 TLP (needs SACK), as Linux tcp_early_retrans=3
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;
  Duration rto_initial = Duration::Millis(1000);  // RFC 6298 2.1
  Duration rto_min = Duration::Millis(200);       // Linux TCP_RTO_MIN; RFC 6298 2.4 says 1 s
  Duration rto_max = Duration::Millis(120000);    // Linux TCP_RTO_MAX
  Duration delayed_ack = Duration::Millis(40);    // Linux TCP_DELACK_MIN; RFC 9293 allows up to 500 ms
  Duration msl = Duration::Millis(30000);         // TIME-WAIT lasts 2*MSL (Linux: 60 s total)
  Duration fin_wait2_timeout = Duration::Millis(60000);  // orphaned FIN-WAIT-2 (Linux tcp_fin_timeout)
  int syn_retries = 6;                       // Linux tcp_syn_retries / tcp_synack_retries (5)
  int max_retransmits = 15;                  // Linux tcp_retries2: then the connection times out
  int backlog = 128;                         // default listen backlog (half-open + unaccepted)
  std::uint16_t ephemeral_low = 32768;       // Linux ip_local_port_range
  std::uint16_t ephemeral_high = 60999;
  std::uint32_t challenge_ack_limit = 1000;  // RFC 5961 7: challenge ACKs per second per table
  // Tests only: replaces the RFC 6528 ISN (e.g. to start near 2^32 and cross the wrap).
  std::function<std::uint32_t(const FourTuple&)> isn_override;
};

}  // namespace braid::ustack
