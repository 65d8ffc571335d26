// The TCP control block (RFC 9293 3.3.1): one connection's state machine, buffers and timers.
// Sans-IO: Process() takes a parsed segment, Dispatch() hands out segments, PollAt() says when to
// call Dispatch() again. It never sees bytes of a header, a socket or a clock of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "ustack/tcp/assembler.h"
#include "ustack/tcp/buffer.h"
#include "ustack/tcp/congestion.h"
#include "ustack/tcp/option_hook.h"
#include "ustack/tcp/ring_buffer.h"
#include "ustack/tcp/rtt_estimator.h"
#include "ustack/tcp/sack_scoreboard.h"
#include "ustack/tcp/send_queue.h"
#include "ustack/tcp/tcp_context.h"
#include "ustack/tcp/tcp_types.h"
#include "ustack/wire/instant.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack {

class TcpConnection {
 public:
  // Active open: the connection starts in SYN-SENT; its first Dispatch sends the SYN.
  static std::unique_ptr<TcpConnection> Connect(TcpContext& ctx, SocketId id, const FourTuple& tuple, Instant now);
  // Passive open from a SYN that reached a listener: starts in SYN-RECEIVED (no SYN cookies). The
  // hook, if any, sees the SYN first; when it refuses, the connection is CLOSED on return.
  static std::unique_ptr<TcpConnection> Accept(TcpContext& ctx, SocketId id, const FourTuple& tuple,
                                               const TcpRepr& syn, Instant now,
                                               std::unique_ptr<TcpOptionHook> hook = nullptr);

  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Attaches the option hook of an active open (before the first Dispatch sends the SYN).
  void set_option_hook(std::unique_ptr<TcpOptionHook> hook) { hook_ = std::move(hook); }
  TcpOptionHook* option_hook() const { return hook_.get(); }

  // ---- IP-layer side ----
  // One segment whose four-tuple is this connection's (RFC 9293 3.10.7.3 and 3.10.7.4).
  void Process(Instant now, const TcpRepr& seg);
  // Fires due timers, then emits every segment that may go now. False when `emit` refused one.
  bool Dispatch(Instant now, const TcpEmit& emit);
  // The earliest armed timer; nullopt when none. Output due now is signalled by wants_dispatch().
  std::optional<Instant> PollAt() const;
  bool wants_dispatch() const {
    return ack_now_ || bare_ack_owed_ || pending_rst_.has_value() || send_possible_hint_ || probe_due_ || tlp_due_;
  }

  // ---- application side ----
  // Copies into the send buffer. Allowed from SYN-SENT (queued until ESTABLISHED) to CLOSE-WAIT.
  IoResult Send(std::span<const std::uint8_t> data);
  // Zero-copy send: queues `buffer` whole or not at all (kWouldBlock, buffer left with the caller).
  TcpError SendBuffer(TcpBufferPtr& buffer);
  // Copies out received bytes. {0, kOk} is end of stream; kWouldBlock when nothing is there yet.
  IoResult Recv(std::span<std::uint8_t> out);
  // Zero-copy receive: the readable bytes that are contiguous in the buffer, then RecvConsume().
  std::span<const std::uint8_t> RecvPeek() const;
  // The readable bytes after RecvPeek's when the buffer wraps (read them after consuming those).
  std::span<const std::uint8_t> RecvPeekWrapped() const;
  void RecvConsume(std::size_t n);
  // Half-close: a FIN follows the queued data.
  void Shutdown();
  // The application is done: Shutdown() plus no more reads. Unread or later-arriving data resets
  // the connection (RFC 9293 3.10.4, as Linux). The table frees the connection once it is CLOSED.
  void Close();
  // Sends RST (in synchronized states) and goes to CLOSED at once.
  void Abort();
  // An ACK goes out at the next Dispatch even with nothing new to acknowledge: the option hook has
  // news for the peer (MPTCP's DATA_FIN or DATA_ACK ride on a pure ACK).
  void RequestAck() {
    ack_now_ = true;
    Wake();
  }
  // The same, but the ACK must be a segment without payload even when data goes out too: the
  // hook's options do not fit beside data (MPTCP's ADD_ADDR next to a full DSS).
  void RequestBareAck() {
    bare_ack_owed_ = true;
    RequestAck();
  }

  std::uint32_t readiness() const;
  TcpState state() const { return state_; }
  TcpError error() const { return error_; }
  const FourTuple& tuple() const { return tuple_; }
  SocketId id() const { return id_; }
  bool app_closed() const { return app_closed_; }
  std::size_t send_free() const { return tx_.free(); }
  std::size_t send_queued() const { return tx_.size(); }
  std::size_t recv_available() const { return rx_.len(); }
  bool peer_finished() const { return rx_fin_; }

  // ---- introspection (tests, /connections) ----
  std::uint32_t snd_una() const { return snd_una_; }
  std::uint32_t snd_nxt() const { return snd_nxt_; }
  std::uint32_t rcv_nxt() const { return rcv_nxt_; }
  std::uint32_t snd_wnd() const { return snd_wnd_; }
  std::uint32_t rcv_wnd() const { return rcv_adv_ - rcv_nxt_; }
  std::uint32_t smss() const { return smss_; }
  std::uint8_t snd_wscale() const { return snd_wscale_; }
  std::uint8_t rcv_wscale() const { return rcv_wscale_; }
  bool sack_enabled() const { return sack_ok_; }
  bool timestamps_enabled() const { return ts_ok_; }
  const CongestionControl& congestion() const { return *cc_; }
  const RttEstimator& rtt() const { return rtt_; }
  bool in_recovery() const { return in_recovery_; }
  // Retransmission timeouts in a row without forward progress (0 once an ACK advances SND.UNA):
  // a path that has gone dark shows here first (MPTCP's stale subflows, Linux stale_loss_cnt).
  int consecutive_timeouts() const { return retransmits_; }

 private:
  TcpConnection(TcpContext& ctx, SocketId id, const FourTuple& tuple, Instant now);

  void set_state(TcpState next);
  void Fail(TcpError error);
  // The hook refused a segment: RST (at `rst_seq`) and CLOSED with kConnectionReset.
  void RefuseByHook(std::uint32_t rst_seq);
  std::uint32_t HookSpace(bool payload = true) const {
    return hook_ ? (payload ? hook_->ReservedOptionSpace() : hook_->AckOptionSpace()) : 0;
  }
  void Wake();
  TcpCounters& counters() { return ctx_.counters; }
  const TcpConfig& config() const { return ctx_.config; }

  // input
  void ProcessSynSent(Instant now, const TcpRepr& seg);
  void ProcessRst(Instant now, const TcpRepr& seg, std::uint32_t seq);
  bool ProcessAck(Instant now, const TcpRepr& seg, std::uint32_t seq);
  void ProcessText(Instant now, std::uint32_t seq, std::span<const std::uint8_t> payload, bool fin);
  void NegotiateOptions(const TcpRepr& syn);
  bool Acceptable(std::uint32_t seq, std::uint32_t len) const;
  void ChallengeAck(Instant now);
  void EnterRecovery(Instant now);
  void EnterTimeWait(Instant now);
  void EnterEstablished();
  void ResetTimers();
  void SampleRtt(Instant now, const TcpRepr& seg, std::uint32_t ack);

  // output
  void HandleTimers(Instant now);
  void OnRetransmitTimeout(Instant now);
  // RFC 8985 7.2: (re)arms the probe timeout after new data went out or SND.UNA advanced, or
  // disarms it when no probe may go (recovery, nothing in flight, a probe outstanding, no SACK).
  void ArmLossProbe(Instant now);
  // RFC 8985 7.3: the probe timeout fired; new data if the windows allow, else the last segment.
  bool SendLossProbe(Instant now, const TcpEmit& emit);
  // RFC 8985 7.4 and 6.2 for the probe: what the ACK of an outstanding probe tells.
  void ProcessLossProbeAck(Instant now, const TcpRepr& seg, bool una_advanced);
  enum class EmitResult { kSent, kNothing, kBlocked };
  bool SendData(Instant now, const TcpEmit& emit);
  EmitResult EmitData(Instant now, const TcpEmit& emit, std::uint32_t seq, std::uint32_t max_len, bool fin_allowed);
  // The payload a data segment at `seq` of at most `max_len` bytes carries (option room, the hook's
  // PayloadLimit and the send queue's chunks cut it).
  std::span<const std::uint8_t> PayloadAt(std::uint32_t seq, std::uint32_t max_len) const;
  bool SendSegment(Instant now, const TcpEmit& emit, std::uint32_t seq, std::uint8_t flags,
                   std::span<const std::uint8_t> payload);
  std::uint16_t WindowToAdvertise(bool syn);
  // SACK blocks our next segment carries, and the option bytes they take (0 without SACK).
  std::size_t SackBlocksToSend(bool payload = true) const;
  std::uint32_t SackOptionLen() const;
  std::uint32_t Pipe() const;
  std::uint32_t LostThreshold() const { return 2 * smss_; }  // RFC 6675: (DupThresh - 1) * SMSS
  // Un-SACKed bytes below this are lost: RFC 6675 IsLost, or what a delivered loss probe showed.
  std::uint32_t LostEnd() const;
  std::uint32_t data_end() const { return snd_una_ + static_cast<std::uint32_t>(tx_.size()); }
  std::uint32_t TsNow(Instant now) const {
    return static_cast<std::uint32_t>(now.micros / 1000) + ts_offset_;
  }
  bool synchronized() const;
  // A state in which we may still send data (our FIN not yet acknowledged).
  bool SendingState() const;
  // The MSS we advertise and cap at: config().mss is for IPv4; IPv6's header is 20 bytes longer.
  std::uint16_t OurMss() const {
    return static_cast<std::uint16_t>(tuple_.local.addr.is_v4() ? config().mss : config().mss - 20);
  }
  void ArmPersistIfNeeded(Instant now);
  void MaybeWindowUpdate();

  TcpContext& ctx_;
  SocketId id_;
  FourTuple tuple_;
  TcpState state_ = TcpState::kClosed;
  TcpError error_ = TcpError::kOk;
  std::unique_ptr<CongestionControl> cc_;
  RttEstimator rtt_;

  // send sequence space (RFC 9293 3.3.1), plus SND.MAX: the highest sequence number sent so far,
  // which stays put when a timeout rewinds SND.NXT to SND.UNA (go-back-N).
  std::uint32_t iss_ = 0;
  std::uint32_t snd_una_ = 0;
  std::uint32_t snd_nxt_ = 0;
  std::uint32_t snd_max_ = 0;
  std::uint32_t snd_wnd_ = 0;  // bytes, already scaled
  std::uint32_t snd_wl1_ = 0;
  std::uint32_t snd_wl2_ = 0;
  std::uint32_t max_snd_wnd_ = 0;
  std::uint16_t smss_ = 536;  // payload bytes per segment (peer MSS minus our option overhead)
  SendQueue tx_;
  bool tx_closed_ = false;    // Shutdown(): a FIN goes after the data
  std::uint32_t fin_seq_ = 0;  // our FIN's sequence number, once tx_closed_

  // receive sequence space
  std::uint32_t irs_ = 0;
  std::uint32_t rcv_nxt_ = 0;
  std::uint32_t rcv_adv_ = 0;  // right edge of the window we last advertised
  std::uint32_t rcv_mss_ = 536;  // largest segment seen: the delayed-ACK "full segment"
  RingBuffer rx_;
  Assembler assembler_;
  std::optional<std::uint32_t> rx_fin_seq_;  // a FIN seen beyond a hole
  bool rx_fin_ = false;                      // the peer's FIN is in order: end of stream

  // negotiated options
  std::uint8_t snd_wscale_ = 0;
  std::uint8_t rcv_wscale_ = 0;
  bool ws_ok_ = false;
  bool sack_ok_ = false;
  bool ts_ok_ = false;
  std::uint32_t ts_offset_ = 0;
  std::uint32_t ts_recent_ = 0;
  std::uint32_t last_ack_sent_ = 0;
  std::uint32_t ts_rtt_floor_ = 0;  // TSval at the last timeout: older echoes are not RTT samples

  // timers
  std::optional<Instant> rto_at_;
  std::optional<Instant> persist_at_;
  std::optional<Instant> delack_at_;
  std::optional<Instant> timewait_at_;
  std::optional<Instant> finwait2_at_;
  int retransmits_ = 0;  // consecutive timeouts of the same data (or SYN)
  int persist_backoff_ = 0;
  bool probe_due_ = false;
  std::optional<Instant> tlp_at_;  // RFC 8985 7.2 PTO
  bool tlp_due_ = false;           // the PTO fired: the next Dispatch sends the probe
  std::optional<std::pair<std::uint32_t, Instant>> rtt_timed_;  // Karn: (seq, sent) of one timed segment
  Instant syn_sent_at_{};

  // ACK generation
  bool ack_now_ = false;
  bool bare_ack_owed_ = false;  // RequestBareAck: an ACK without payload, even if data went out
  bool send_possible_hint_ = false;  // an application call queued data or a FIN
  std::uint32_t unacked_bytes_ = 0;  // in-order bytes received since our last ACK
  std::optional<std::uint32_t> pending_rst_;  // RST <SEQ=x> owed for an unacceptable ACK

  // loss recovery (RFC 6582 NewReno, RFC 6675 SACK)
  bool in_recovery_ = false;
  bool rexmit_first_ = false;  // retransmit SND.UNA's segment now, regardless of pipe
  std::uint32_t recover_ = 0;
  std::uint32_t high_rxt_ = 0;
  std::uint32_t dupacks_ = 0;
  SackScoreboard scoreboard_;

  // tail loss probe (RFC 8985 7): the outstanding probe's episode
  std::optional<std::uint32_t> tlp_end_;  // TLP.end_seq: SND.NXT right after the probe; unset: none
  std::uint32_t tlp_seq_ = 0;             // the probe's first sequence number
  bool tlp_retrans_ = false;              // TLP.is_retrans
  // RACK (RFC 8985 6.2) applied to a delivered probe: every un-SACKed byte below it was sent at
  // least a PTO (2*SRTT) before it, so it is lost. Unset once SND.UNA passes it or recovery ends.
  std::optional<std::uint32_t> probe_lost_end_;

  std::uint32_t probe_end_ = 0;  // one past the last zero-window probe byte (ACKs up to it are valid)

  std::unique_ptr<TcpOptionHook> hook_;  // options of another protocol (MPTCP), or null

  bool passive_ = false;    // created by a listener
  bool connected_ = false;  // reached ESTABLISHED once
  bool app_closed_ = false;
};

}  // namespace braid::ustack
