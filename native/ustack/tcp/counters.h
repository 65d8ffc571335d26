// Per-lcore TCP counters: one list, one line of meaning each (the model is Linux include/uapi/linux/snmp.h
// and net/ipv4/proc.c). Odd or dropped input is never silent: it lands in exactly one of these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace braid::ustack {

#define BRAID_TCP_COUNTERS(X)                                                                          \
  X(ActiveOpens, "connect() sent a SYN (RFC 1213 tcpActiveOpens)")                                      \
  X(PassiveOpens, "a listener answered a SYN with a SYN-ACK (tcpPassiveOpens)")                        \
  X(AttemptFails, "a handshake ended in CLOSED: refused, reset or timed out (tcpAttemptFails)")       \
  X(EstabResets, "a synchronized connection was reset by the peer (tcpEstabResets)")                  \
  X(InSegs, "segments handed to the table by the IP layer")                                           \
  X(OutSegs, "segments emitted, retransmissions included")                                             \
  X(RetransSegs, "segments that carried already-sent sequence space")                                 \
  X(OutRsts, "RST segments emitted")                                                                   \
  X(NoSocket, "segment matched no connection and no listener (RFC 9293 3.10.7.1): answered by RST")   \
  X(ListenOverflows, "SYN dropped because the listener's backlog was full")                          \
  X(ListenDrops, "segment to a listener that was neither SYN nor RST nor ACK, dropped")               \
  X(SeqOutOfWindow, "segment failed the RFC 9293 3.10.7.4 acceptability test: ACKed and dropped")     \
  X(PawsRejected, "segment with a TSval older than TS.Recent (RFC 7323 5.3): ACKed and dropped")      \
  X(RstExact, "RST with SEG.SEQ == RCV.NXT: connection reset (RFC 5961 3.2)")                        \
  X(RstInWindow, "RST inside the window but not exact: challenge ACK (RFC 5961 3.2)")                \
  X(RstOutOfWindow, "RST outside the window: dropped silently (RFC 5961 3.2)")                       \
  X(SynInSynchronized, "SYN on a synchronized connection: challenge ACK (RFC 5961 4.2)")            \
  X(ChallengeAcks, "challenge ACKs sent (RFC 5961)")                                                   \
  X(ChallengeAckLimited, "challenge ACKs suppressed by the per-second limit (RFC 5961 7)")            \
  X(AckUnsent, "ACK for data never sent (SEG.ACK > SND.MAX): ACKed and dropped")                     \
  X(AckTooOld, "ACK below SND.UNA - MAX.SND.WND (RFC 5961 5.2): challenge ACK, dropped")             \
  X(AckBadInHandshake, "unacceptable ACK in SYN-SENT or SYN-RECEIVED: answered by RST")              \
  X(NoAckFlag, "non-SYN segment without ACK on a synchronized connection: dropped")                  \
  X(DupAcks, "duplicate ACKs counted toward fast retransmit (RFC 5681 2)")                            \
  X(FastRecoveries, "entries into fast recovery, NewReno (RFC 6582) or SACK (RFC 6675)")               \
  X(SackRecoveries, "fast recoveries that used the SACK scoreboard")                                  \
  X(Timeouts, "retransmission timer expirations (RFC 6298 5.4)")                                     \
  X(LossProbes, "tail loss probes sent (RFC 8985 7.3; Linux TCPLossProbes)")                          \
  X(LossProbeRecovery, "a probe's retransmission repaired a single loss (RFC 8985 7.4; Linux TCPLossProbeRecovery)") \
  X(TimeoutAborts, "connections given up after too many retransmissions")                            \
  X(ZeroWindowProbes, "zero-window probes sent (RFC 9293 3.8.6.1)")                                 \
  X(DelayedAcks, "ACKs sent because the delayed-ACK timer fired")                                    \
  X(OutOfOrderSegs, "data segments queued out of order")                                              \
  X(DuplicateData, "data segments whose payload was entirely already received")                     \
  X(DataBeyondWindow, "payload bytes trimmed because they lay past the receive window")             \
  X(AssemblerFull, "out-of-order segments dropped: too many holes to track")                        \
  X(DataAfterClose, "data arrived after the application closed: connection reset (RFC 9293 3.10.4)") \
  X(TimeWaitRecycled, "SYN with a higher sequence number reopened a TIME-WAIT four-tuple (RFC 6191)") \
  X(OptionHookResets, "the option hook (MPTCP) refused a segment: connection reset")

enum class TcpCounter : std::uint8_t {
#define BRAID_TCP_COUNTER_ENUM(name, help) k##name,
  BRAID_TCP_COUNTERS(BRAID_TCP_COUNTER_ENUM)
#undef BRAID_TCP_COUNTER_ENUM
      kCount
};

// Stable snake-free names ("ActiveOpens") for metrics export, and the help text above.
const char* TcpCounterName(TcpCounter c);
const char* TcpCounterHelp(TcpCounter c);

class TcpCounters {
 public:
  void Inc(TcpCounter c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
  std::uint64_t Get(TcpCounter c) const { return values_[static_cast<std::size_t>(c)]; }

 private:
  std::array<std::uint64_t, static_cast<std::size_t>(TcpCounter::kCount)> values_{};
};

}  // namespace braid::ustack
