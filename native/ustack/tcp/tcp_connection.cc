#include "ustack/tcp/tcp_connection.h"

#include <algorithm>

#include "ustack/tcp/seq.h"

namespace braid::ustack {
namespace {

// RFC 9293 3.7.1: the MSS assumed when the peer's SYN carries none.
constexpr std::uint32_t kDefaultMss = 536;
// RFC 7323 3.2: the timestamp option takes 12 bytes of every segment once negotiated (with NOPs).
constexpr std::uint32_t kTimestampOptionLen = 12;
// RFC 7323 2.3: the largest window shift.
constexpr std::uint8_t kMaxWindowScale = 14;
// TcpRepr holds four SACK blocks; with timestamps only three fit in 40 option bytes (RFC 2018 3).
constexpr std::size_t kMaxSackBlocksWithTimestamps = 3;
// RFC 8985 7.2: WCDelAckT, the worst-case delayed-ACK time added to the PTO with one segment out.
constexpr Duration kWorstCaseDelayedAck{200'000};
// Added to 2*SRTT with more than one segment out, as Linux (TCP_TIMEOUT_MIN): on a sub-millisecond
// path (and our millisecond timestamps make SRTT 0 there) a bare 2*SRTT fires at every hiccup.
constexpr Duration kLossProbeSlack{2'000};
// RFC 8985 7.2: the PTO without an RTT sample.
constexpr Duration kLossProbeNoRtt{1'000'000};

std::uint8_t WindowScaleFor(std::size_t buffer) {
  std::uint8_t s = 0;
  while (s < kMaxWindowScale && (std::size_t{65535} << s) < buffer) ++s;
  return s;
}

void MinInto(std::optional<Instant>& acc, const std::optional<Instant>& t) {
  if (t && (!acc || *t < *acc)) acc = t;
}

}  // namespace

TcpConnection::TcpConnection(TcpContext& ctx, SocketId id, const FourTuple& tuple, Instant now)
    : ctx_(ctx),
      id_(id),
      tuple_(tuple),
      cc_(MakeCongestionControl(ctx.config.congestion, kDefaultMss)),
      rtt_(ctx.config.rto_initial, ctx.config.rto_min, ctx.config.rto_max),
      tx_(ctx.config.tx_buffer),
      rx_(ctx.config.rx_buffer) {
  iss_ = ctx.config.isn_override ? ctx.config.isn_override(tuple) : ctx.isn.Isn(tuple, now);
  snd_una_ = snd_nxt_ = snd_max_ = probe_end_ = iss_;
  recover_ = iss_;
  high_rxt_ = iss_;
  ts_offset_ = ctx.isn.TimestampOffset(tuple);
  ts_rtt_floor_ = TsNow(now);
  rcv_wscale_ = ctx.config.window_scaling ? WindowScaleFor(ctx.config.rx_buffer) : 0;
}

std::unique_ptr<TcpConnection> TcpConnection::Connect(TcpContext& ctx, SocketId id, const FourTuple& tuple,
                                                      Instant now) {
  std::unique_ptr<TcpConnection> c(new TcpConnection(ctx, id, tuple, now));
  c->set_state(TcpState::kSynSent);
  ctx.counters.Inc(TcpCounter::kActiveOpens);
  return c;
}

std::unique_ptr<TcpConnection> TcpConnection::Accept(TcpContext& ctx, SocketId id, const FourTuple& tuple,
                                                     const TcpRepr& syn, Instant now,
                                                     std::unique_ptr<TcpOptionHook> hook) {
  std::unique_ptr<TcpConnection> c(new TcpConnection(ctx, id, tuple, now));
  c->passive_ = true;
  c->hook_ = std::move(hook);
  c->irs_ = syn.seq;
  c->rcv_nxt_ = c->rcv_adv_ = c->last_ack_sent_ = syn.seq + 1;
  c->NegotiateOptions(syn);
  c->snd_wnd_ = syn.window;  // RFC 7323 2.2: the window of a SYN is never scaled
  c->max_snd_wnd_ = c->snd_wnd_;
  c->snd_wl1_ = syn.seq;
  c->snd_wl2_ = c->iss_;
  c->set_state(TcpState::kSynReceived);
  ctx.counters.Inc(TcpCounter::kPassiveOpens);
  if (c->hook_ && !c->hook_->OnSegmentIn(syn, TcpState::kSynReceived)) {
    // Nothing was sent yet: the listener answers the SYN with a RST (TcpTable::ListenerInput).
    ctx.counters.Inc(TcpCounter::kOptionHookResets);
    c->Fail(TcpError::kConnectionReset);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// State

void TcpConnection::set_state(TcpState next) {
  if (next == state_) return;
  if (ctx_.trace) ctx_.trace(tuple_, state_, next);
  state_ = next;
  if (next == TcpState::kClosed) {
    ResetTimers();
    if (hook_) hook_->OnClosed();
  }
}

void TcpConnection::ResetTimers() {
  rto_at_.reset();
  persist_at_.reset();
  delack_at_.reset();
  timewait_at_.reset();
  finwait2_at_.reset();
  tlp_at_.reset();
  probe_due_ = false;
  tlp_due_ = false;
  ack_now_ = false;
  send_possible_hint_ = false;
}

void TcpConnection::Fail(TcpError error) {
  error_ = error;
  set_state(TcpState::kClosed);
}

void TcpConnection::RefuseByHook(std::uint32_t rst_seq) {
  counters().Inc(TcpCounter::kOptionHookResets);
  pending_rst_ = rst_seq;
  Fail(TcpError::kConnectionReset);
}

void TcpConnection::Wake() {
  if (ctx_.wake) ctx_.wake(id_);
}

bool TcpConnection::SendingState() const {
  switch (state_) {
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
    case TcpState::kFinWait1:
    case TcpState::kClosing:
    case TcpState::kLastAck:
      return true;
    default:
      return false;
  }
}

bool TcpConnection::synchronized() const {
  switch (state_) {
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
      return true;
    default:
      return false;
  }
}

void TcpConnection::EnterEstablished() {
  set_state(TcpState::kEstablished);
  connected_ = true;
  if (tx_closed_) {  // Shutdown() during the handshake: the FIN follows what was queued
    fin_seq_ = data_end();
    set_state(TcpState::kFinWait1);
  }
  send_possible_hint_ = true;
}

void TcpConnection::EnterTimeWait(Instant now) {
  set_state(TcpState::kTimeWait);
  rto_at_.reset();
  persist_at_.reset();
  finwait2_at_.reset();
  timewait_at_ = now + Duration{2 * config().msl.micros};
  tlp_at_.reset();
  tlp_due_ = false;
  tx_.Release();  // nothing more will be sent; unread received data stays for the application
  scoreboard_.Clear();
}

void TcpConnection::NegotiateOptions(const TcpRepr& syn) {
  ws_ok_ = config().window_scaling && syn.window_scale.has_value();
  if (ws_ok_) {
    snd_wscale_ = std::min(*syn.window_scale, kMaxWindowScale);  // RFC 7323 2.3: clamp and go on
  } else {
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  sack_ok_ = config().sack && syn.sack_permitted;
  ts_ok_ = config().timestamps && syn.timestamp.has_value();
  if (ts_ok_) ts_recent_ = syn.timestamp->value;
  std::uint32_t mss = std::min<std::uint32_t>(syn.mss.value_or(kDefaultMss), OurMss());
  if (ts_ok_) mss -= kTimestampOptionLen;
  smss_ = static_cast<std::uint16_t>(std::max<std::uint32_t>(mss, 64));
  rcv_mss_ = smss_;
  cc_->set_mss(smss_);
}

// ---------------------------------------------------------------------------------------------
// Application API

IoResult TcpConnection::Send(std::span<const std::uint8_t> data) {
  if (error_ != TcpError::kOk) return {0, error_};
  if (tx_closed_) return {0, TcpError::kClosed};
  switch (state_) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
      break;
    default:
      return {0, TcpError::kNotConnected};
  }
  std::size_t n = tx_.Append(data);
  if (n == 0 && !data.empty()) return {0, TcpError::kWouldBlock};
  if (n > 0) {
    send_possible_hint_ = true;
    Wake();
  }
  return {n, TcpError::kOk};
}

TcpError TcpConnection::SendBuffer(TcpBufferPtr& buffer) {
  if (error_ != TcpError::kOk) return error_;
  if (tx_closed_) return TcpError::kClosed;
  switch (state_) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
      break;
    default:
      return TcpError::kNotConnected;
  }
  if (!buffer) return TcpError::kInvalidArgument;
  if (!tx_.AppendBuffer(buffer)) return TcpError::kWouldBlock;
  send_possible_hint_ = true;
  Wake();
  return TcpError::kOk;
}

IoResult TcpConnection::Recv(std::span<std::uint8_t> out) {
  if (rx_.len() == 0) {
    if (error_ != TcpError::kOk) return {0, error_};
    if (rx_fin_) return {0, TcpError::kOk};
    if (state_ == TcpState::kClosed) return {0, TcpError::kNotConnected};
    return {0, TcpError::kWouldBlock};
  }
  std::size_t n = rx_.Read(out);
  MaybeWindowUpdate();
  return {n, TcpError::kOk};
}

std::span<const std::uint8_t> TcpConnection::RecvPeek() const { return rx_.PeekContiguous(); }

std::span<const std::uint8_t> TcpConnection::RecvPeekWrapped() const { return rx_.PeekWrapped(); }

void TcpConnection::RecvConsume(std::size_t n) {
  rx_.Dequeue(n);
  MaybeWindowUpdate();
}

void TcpConnection::MaybeWindowUpdate() {
  if (!synchronized() || rx_fin_ || state_ == TcpState::kTimeWait) return;
  std::uint32_t cur = SeqGt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  std::size_t free = rx_.window();
  // RFC 9293 3.8.6.2.2 / RFC 1122 4.2.3.3: tell the peer once the window grew by a useful amount.
  if (free > cur && free - cur >= std::min<std::size_t>(rx_.capacity() / 2, rcv_mss_)) {
    ack_now_ = true;
    Wake();
  }
}

void TcpConnection::Shutdown() {
  if (tx_closed_) return;
  switch (state_) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      tx_closed_ = true;  // the FIN's place is fixed on reaching ESTABLISHED
      break;
    case TcpState::kEstablished:
      tx_closed_ = true;
      fin_seq_ = data_end();
      set_state(TcpState::kFinWait1);
      break;
    case TcpState::kCloseWait:
      tx_closed_ = true;
      fin_seq_ = data_end();
      set_state(TcpState::kLastAck);
      break;
    default:
      return;
  }
  send_possible_hint_ = true;
  Wake();
}

void TcpConnection::Close() {
  if (app_closed_) return;
  app_closed_ = true;
  switch (state_) {
    case TcpState::kClosed:
    case TcpState::kTimeWait:
      Wake();  // lets the table free it
      return;
    case TcpState::kSynSent:
      set_state(TcpState::kClosed);  // nothing the peer must hear about (as Linux)
      Wake();
      return;
    default:
      break;
  }
  // RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data aborts rather than lose it silently.
  if (rx_.len() > 0) {
    Abort();
    return;
  }
  Shutdown();
  Wake();
}

void TcpConnection::Abort() {
  app_closed_ = true;
  switch (state_) {
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
      pending_rst_ = snd_max_;
      break;
    default:
      break;
  }
  set_state(TcpState::kClosed);
  Wake();
}

std::uint32_t TcpConnection::readiness() const {
  std::uint32_t r = 0;
  if (rx_.len() > 0 || rx_fin_ || error_ != TcpError::kOk || state_ == TcpState::kClosed) r |= kTcpReadable;
  if (!tx_closed_ && (state_ == TcpState::kEstablished || state_ == TcpState::kCloseWait) && tx_.free() > 0) {
    r |= kTcpWritable;
  }
  if (connected_) r |= kTcpConnected;
  if (state_ == TcpState::kClosed) r |= kTcpHangup;
  if (error_ != TcpError::kOk) r |= kTcpError;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Input

void TcpConnection::Process(Instant now, const TcpRepr& seg) {
  if (state_ == TcpState::kClosed || state_ == TcpState::kListen) return;
  if (state_ == TcpState::kSynSent) {
    ProcessSynSent(now, seg);
    return;
  }
  std::uint32_t seq = seg.seq;
  bool syn = seg.has(kTcpSyn);
  bool fin = seg.has(kTcpFin);
  std::span<const std::uint8_t> payload = seg.payload;

  // RFC 7323 5.3 R1 (PAWS): an older TSval is a duplicate from an earlier incarnation of the
  // sequence space. RSTs are exempt (R1 applies to them only with RFC 5961's checks, below).
  if (ts_ok_ && seg.timestamp && !seg.has(kTcpRst) && SeqLt(seg.timestamp->value, ts_recent_)) {
    counters().Inc(TcpCounter::kPawsRejected);
    ack_now_ = true;
    return;
  }
  if (syn && state_ == TcpState::kSynReceived && seq == irs_) {
    if (!seg.has(kTcpAck)) {  // the peer retransmitted its SYN: our SYN-ACK was lost
      ack_now_ = true;
      return;
    }
    // Simultaneous open (RFC 9293 figure 8): the peer's SYN-ACK repeats the SYN we already hold.
    syn = false;
    seq += 1;
  }
  if (seg.has(kTcpRst)) {
    ProcessRst(now, seg, seq);
    return;
  }
  if (syn) {  // RFC 5961 4.2: whatever its sequence number, a SYN here gets a challenge ACK
    counters().Inc(TcpCounter::kSynInSynchronized);
    ChallengeAck(now);
    return;
  }
  std::uint32_t len = static_cast<std::uint32_t>(payload.size()) + (fin ? 1 : 0);
  if (!Acceptable(seq, len)) {
    // RFC 9293 3.10.7.4: "If an incoming segment is not acceptable, an acknowledgment should be
    // sent in reply". With a zero window the ACK field of a segment at RCV.NXT still counts.
    counters().Inc(TcpCounter::kSeqOutOfWindow);
    ack_now_ = true;
    if (seq == rcv_nxt_ && seg.has(kTcpAck) && state_ != TcpState::kSynReceived) {
      // The hook's options count with the ACK (MPTCP: the DATA_ACK and the connection-level window,
      // which a peer whose window update was lost may have no other segment to carry).
      if (hook_ && !hook_->OnSegmentIn(seg, state_)) {
        RefuseByHook(snd_max_);
        return;
      }
      ProcessAck(now, seg, seq);
    }
    if (state_ == TcpState::kTimeWait && fin) timewait_at_ = now + Duration{2 * config().msl.micros};
    return;
  }
  if (!seg.has(kTcpAck)) {
    counters().Inc(TcpCounter::kNoAckFlag);
    return;
  }
  if (state_ == TcpState::kSynReceived && !(SeqGt(seg.ack, snd_una_) && SeqLe(seg.ack, snd_max_))) {
    counters().Inc(TcpCounter::kAckBadInHandshake);
    pending_rst_ = seg.ack;  // RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>
    return;
  }
  // The hook sees the segment once it is known acceptable, before its ACK, data and FIN act.
  if (hook_ && !hook_->OnSegmentIn(seg, state_)) {
    RefuseByHook(state_ == TcpState::kSynReceived ? seg.ack : snd_max_);
    return;
  }
  if (state_ == TcpState::kSynReceived) {
    SampleRtt(now, seg, seg.ack);
    snd_una_ = seg.ack;
    snd_nxt_ = SeqMax(snd_nxt_, snd_una_);
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seq;
    snd_wl2_ = seg.ack;
    rto_at_.reset();
    retransmits_ = 0;
    EnterEstablished();
  }
  if (!ProcessAck(now, seg, seq)) return;
  if (state_ == TcpState::kClosed) return;  // LAST-ACK: our FIN was acknowledged
  // RFC 7323 4.3 (2): TS.Recent takes the TSval of the segment that covers Last.ACK.sent.
  if (ts_ok_ && seg.timestamp && SeqLe(seq, last_ack_sent_)) ts_recent_ = seg.timestamp->value;
  switch (state_) {
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
      ProcessText(now, seq, payload, fin);
      break;
    default:
      // RFC 9293 3.10.7.4 seventh: after the peer's FIN, text and FIN are ignored (only ACKed).
      if (len > 0) ack_now_ = true;
      break;
  }
}

void TcpConnection::ProcessSynSent(Instant now, const TcpRepr& seg) {
  bool ack = seg.has(kTcpAck);
  // RFC 9293 3.10.7.3 first: an ACK that does not cover our SYN.
  if (ack && (SeqLe(seg.ack, iss_) || SeqGt(seg.ack, snd_max_))) {
    if (!seg.has(kTcpRst)) {
      counters().Inc(TcpCounter::kAckBadInHandshake);
      pending_rst_ = seg.ack;
    }
    return;
  }
  if (seg.has(kTcpRst)) {
    if (ack) {  // RFC 5961 3.2 leaves SYN-SENT as RFC 793 had it: an acceptable ACK makes it valid
      if (hook_) hook_->OnResetIn(seg);
      counters().Inc(TcpCounter::kAttemptFails);
      Fail(TcpError::kConnectionRefused);
    }
    return;
  }
  if (!seg.has(kTcpSyn)) return;
  if (hook_ && !hook_->OnSegmentIn(seg, state_)) {
    // RFC 9293 3.10.7.3: a RST acceptable to the sender of this segment.
    RefuseByHook(ack ? seg.ack : 0);
    return;
  }
  irs_ = seg.seq;
  rcv_nxt_ = rcv_adv_ = last_ack_sent_ = seg.seq + 1;
  NegotiateOptions(seg);
  snd_wnd_ = seg.window;  // RFC 7323 2.2: not scaled
  max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  snd_wl1_ = seg.seq;
  ack_now_ = true;
  rto_at_.reset();
  if (ack) {
    SampleRtt(now, seg, seg.ack);
    snd_una_ = seg.ack;
    snd_wl2_ = seg.ack;
    retransmits_ = 0;
    EnterEstablished();
  } else {
    // Simultaneous open: answer with SYN-ACK carrying our original ISN.
    set_state(TcpState::kSynReceived);
    snd_nxt_ = iss_;
  }
}

bool TcpConnection::Acceptable(std::uint32_t seq, std::uint32_t len) const {
  std::uint32_t wnd = SeqGt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  std::uint32_t end = rcv_nxt_ + wnd;
  // A segment without text may also sit exactly at the right edge, as Linux accepts (tcp_sequence):
  // a sender whose data filled our window and whose SND.NXT a timeout rewound puts SND.MAX (Linux:
  // its window end) there; refusing it drops the ACK, and two such ends retransmitting old data at
  // each other would ignore each other's ACKs forever.
  if (len == 0) return wnd == 0 ? seq == rcv_nxt_ : SeqInRange(seq, rcv_nxt_, end) || seq == end;
  if (wnd == 0) return false;
  return SeqInRange(seq, rcv_nxt_, end) || SeqInRange(seq + len - 1, rcv_nxt_, end);
}

void TcpConnection::ProcessRst(Instant now, const TcpRepr& seg, std::uint32_t seq) {
  std::uint32_t wnd = SeqGt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  if (seq != rcv_nxt_) {
    // RFC 5961 3.2: in the window but not exact could be a blind attack: challenge, don't reset.
    if (wnd > 0 && SeqInRange(seq, rcv_nxt_, rcv_nxt_ + wnd)) {
      counters().Inc(TcpCounter::kRstInWindow);
      ChallengeAck(now);
    } else {
      counters().Inc(TcpCounter::kRstOutOfWindow);
    }
    return;
  }
  counters().Inc(TcpCounter::kRstExact);
  if (hook_) hook_->OnResetIn(seg);
  switch (state_) {
    case TcpState::kSynReceived:
      counters().Inc(TcpCounter::kAttemptFails);
      if (passive_) {
        set_state(TcpState::kClosed);  // RFC 9293: back to LISTEN, i.e. the listener forgets it
      } else {
        Fail(TcpError::kConnectionRefused);
      }
      break;
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
      counters().Inc(TcpCounter::kEstabResets);
      Fail(TcpError::kConnectionReset);
      break;
    default:  // CLOSING, LAST-ACK, TIME-WAIT: the connection is finished anyway
      set_state(TcpState::kClosed);
      break;
  }
}

void TcpConnection::ChallengeAck(Instant now) {
  if (ctx_.AllowChallengeAck(now)) {
    counters().Inc(TcpCounter::kChallengeAcks);
    ack_now_ = true;
  } else {
    counters().Inc(TcpCounter::kChallengeAckLimited);
  }
}

void TcpConnection::SampleRtt(Instant now, const TcpRepr& seg, std::uint32_t ack) {
  // RFC 7323 4.1: with timestamps every ACK of new data is a sample, retransmissions included.
  // An echo older than our last timeout may answer a transmission from before it (a duplicate
  // ACKed with an old TS.Recent): sampling it would inflate the RTO in a loop, so skip it (Karn).
  if (ts_ok_ && seg.timestamp && seg.timestamp->echo != 0 && SeqGe(seg.timestamp->echo, ts_rtt_floor_)) {
    auto ms = static_cast<std::int32_t>(TsNow(now) - seg.timestamp->echo);
    if (ms >= 0) {
      rtt_.Sample(Duration::Millis(ms));
      rtt_timed_.reset();
      return;
    }
  }
  // RFC 6298 3 (Karn): only the one timed segment, cleared whenever anything is retransmitted.
  if (rtt_timed_ && SeqGt(ack, rtt_timed_->first)) {
    rtt_.Sample(now - rtt_timed_->second);
    rtt_timed_.reset();
  }
}

bool TcpConnection::ProcessAck(Instant now, const TcpRepr& seg, std::uint32_t seq) {
  std::uint32_t ack = seg.ack;
  if (SeqGt(ack, SeqMax(snd_max_, probe_end_))) {
    counters().Inc(TcpCounter::kAckUnsent);
    ack_now_ = true;  // RFC 9293 3.10.7.4: ACK it, drop it
    return false;
  }
  // RFC 5961 5.2: an ACK far below SND.UNA is not a plausible old duplicate.
  if (max_snd_wnd_ > 0 && SeqLt(ack, snd_una_ - max_snd_wnd_)) {
    counters().Inc(TcpCounter::kAckTooOld);
    ChallengeAck(now);
    return false;
  }
  if (sack_ok_) {
    for (std::size_t i = 0; i < seg.sack_count && i < seg.sack.size(); ++i) {
      scoreboard_.Add(seg.sack[i].left, seg.sack[i].right, snd_una_, snd_max_);
    }
  }
  // RFC 9293 3.10.7.4 fifth, ESTABLISHED: update the send window from the newest segment.
  bool window_changed = false;
  if (SeqLe(snd_una_, ack) && (SeqLt(snd_wl1_, seq) || (snd_wl1_ == seq && SeqLe(snd_wl2_, ack)))) {
    std::uint32_t wnd = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    window_changed = wnd != snd_wnd_;
    if (wnd > snd_wnd_) send_possible_hint_ = true;
    snd_wnd_ = wnd;
    snd_wl1_ = seq;
    snd_wl2_ = ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    if (snd_wnd_ > 0) {
      persist_at_.reset();
      persist_backoff_ = 0;
      probe_due_ = false;
    }
  }

  const bool una_advanced = SeqGt(ack, snd_una_);
  if (una_advanced) {
    std::uint32_t acked = ack - snd_una_;
    SampleRtt(now, seg, ack);
    // Forward progress ends the backoff even without a Karn-valid sample: after a timeout in
    // go-back-N every segment may be a retransmission, and a stuck 2^n RTO would then pay for
    // each later loss (RFC 6298 5.7 leaves this open; FreeBSD and Linux recover similarly).
    if (retransmits_ > 0) rtt_.ResetBackoff();
    retransmits_ = 0;
    std::uint32_t data_acked = SeqMin(ack, data_end()) - snd_una_;
    tx_.Consume(data_acked);
    bool fin_acked = tx_closed_ && SeqGt(ack, fin_seq_);
    snd_una_ = ack;
    snd_nxt_ = SeqMax(snd_nxt_, snd_una_);
    snd_max_ = SeqMax(snd_max_, snd_una_);  // an accepted zero-window probe byte
    high_rxt_ = SeqMax(high_rxt_, snd_una_);
    scoreboard_.Prune(snd_una_);
    if (probe_lost_end_ && SeqGe(snd_una_, *probe_lost_end_)) probe_lost_end_.reset();
    if (in_recovery_) {
      if (SeqGe(ack, recover_)) {  // RFC 6582 3.2 step 3: full acknowledgment
        in_recovery_ = false;
        probe_lost_end_.reset();
        rexmit_first_ = false;
        dupacks_ = 0;
        cc_->OnRecoveryExit(now);
      } else if (!sack_ok_) {  // RFC 6582 3.2 step 4: partial ACK, retransmit the next unacked
        rexmit_first_ = true;
        dupacks_ = 0;
      }
    } else {
      dupacks_ = 0;
      cc_->OnAck(now, acked, rtt_.has_sample() ? std::optional<Duration>(rtt_.srtt()) : std::nullopt);
    }
    // RFC 6298 5.2 and 5.3.
    if (snd_nxt_ == snd_una_) {
      rto_at_.reset();
    } else {
      rto_at_ = now + rtt_.rto();
    }
    send_possible_hint_ = true;
    if (fin_acked) {
      switch (state_) {
        case TcpState::kFinWait1:
          set_state(TcpState::kFinWait2);
          break;
        case TcpState::kClosing:
          EnterTimeWait(now);
          break;
        case TcpState::kLastAck:
          set_state(TcpState::kClosed);
          return true;
        default:
          break;
      }
    }
  } else if (ack == snd_una_ && seg.payload.empty() && !seg.has(kTcpFin) && !window_changed &&
             snd_nxt_ != snd_una_) {
    // RFC 5681 2: a duplicate ACK.
    ++dupacks_;
    counters().Inc(TcpCounter::kDupAcks);
    send_possible_hint_ = true;  // the pipe shrank
    // RFC 6582 3.2 step 1: "covers more than recover", the highest byte sent at the last entry;
    // recover_ holds one past it (SND.MAX then), so an ACK of exactly recover_ qualifies: a loss
    // among the segments sent during the last recovery is a new one.
    if (!in_recovery_ && SeqGe(ack, recover_) &&
        (dupacks_ >= 3 || (sack_ok_ && scoreboard_.IsLost(snd_una_, LostThreshold())))) {
      EnterRecovery(now);
    }
  }
  ProcessLossProbeAck(now, seg, una_advanced);
  // RFC 6675 5 (b): SACK can reveal a loss on an ACK that also advanced SND.UNA (and so can the
  // SACK of a loss probe, RFC 8985 6.2).
  if (!in_recovery_ && sack_ok_ && !scoreboard_.empty() && SeqGe(snd_una_, recover_) &&
      snd_nxt_ != snd_una_ && (scoreboard_.IsLost(snd_una_, LostThreshold()) || probe_lost_end_.has_value())) {
    EnterRecovery(now);
  }
  // RFC 8985 7.2: an ACK of new data restarts the PTO (once the probe's episode and the RTO are
  // settled above).
  if (una_advanced) ArmLossProbe(now);
  return true;
}

void TcpConnection::EnterRecovery(Instant now) {
  in_recovery_ = true;
  // Recovery's own congestion response covers a probe's episode too (Linux clears tlp_high_seq).
  tlp_at_.reset();
  tlp_due_ = false;
  tlp_end_.reset();
  rexmit_first_ = true;
  recover_ = snd_max_;  // RFC 6582 3.2 step 2
  high_rxt_ = snd_una_;
  cc_->OnCongestionEvent(now, snd_nxt_ - snd_una_);
  counters().Inc(TcpCounter::kFastRecoveries);
  if (sack_ok_) counters().Inc(TcpCounter::kSackRecoveries);
  send_possible_hint_ = true;
}

void TcpConnection::ProcessText(Instant now, std::uint32_t seq, std::span<const std::uint8_t> payload, bool fin) {
  const std::uint32_t fin_at = seq + static_cast<std::uint32_t>(payload.size());
  const bool had_payload = !payload.empty();
  if (SeqLt(seq, rcv_nxt_)) {  // RFC 9293 3.10.7.4: trim what we already have
    std::uint32_t dup = rcv_nxt_ - seq;
    payload = dup >= payload.size() ? std::span<const std::uint8_t>() : payload.subspan(dup);
    seq = rcv_nxt_;
  }
  bool had_holes = !assembler_.empty();
  bool out_of_order = false;
  if (!payload.empty()) {
    if (app_closed_) {
      counters().Inc(TcpCounter::kDataAfterClose);
      pending_rst_ = snd_max_;
      set_state(TcpState::kClosed);
      return;
    }
    std::uint32_t off = seq - rcv_nxt_;
    std::size_t room = rx_.window();
    std::size_t take = off < room ? std::min(payload.size(), room - off) : 0;
    if (take < payload.size()) {
      counters().Inc(TcpCounter::kDataBeyondWindow, payload.size() - take);
      fin = false;  // the FIN lies past what we kept
      ack_now_ = true;
    }
    if (take > 0) {
      if (!assembler_.Add(off, static_cast<std::uint32_t>(take))) {
        counters().Inc(TcpCounter::kAssemblerFull);
        ack_now_ = true;
        return;
      }
      rx_.WriteUnallocated(off, payload.first(take));
      std::uint32_t ready = assembler_.PopFront();
      if (ready > 0) {
        rx_.EnqueueUnallocated(ready);
        rcv_nxt_ += ready;
        unacked_bytes_ += ready;
      }
      if (off > 0) {
        out_of_order = true;
        counters().Inc(TcpCounter::kOutOfOrderSegs);
      }
      rcv_mss_ = std::max<std::uint32_t>(rcv_mss_, static_cast<std::uint32_t>(std::min<std::size_t>(take, 65535)));
    }
  } else if (had_payload) {
    counters().Inc(TcpCounter::kDuplicateData);
    ack_now_ = true;  // RFC 5681 4.2: a duplicate segment gets an immediate ACK
  }
  if (fin && SeqGe(fin_at, rcv_nxt_)) rx_fin_seq_ = fin_at;
  if (rx_fin_seq_ && *rx_fin_seq_ == rcv_nxt_) {
    rx_fin_seq_.reset();
    rcv_nxt_ += 1;
    rx_fin_ = true;
    ack_now_ = true;
    switch (state_) {
      case TcpState::kEstablished:
        set_state(TcpState::kCloseWait);
        break;
      case TcpState::kFinWait1:
        set_state(TcpState::kClosing);  // simultaneous close: our FIN is not acknowledged yet
        break;
      case TcpState::kFinWait2:
        EnterTimeWait(now);
        break;
      default:
        break;
    }
  }
  // RFC 5681 4.2 / RFC 9293 3.8.6.3: ACK at once out of order and when filling a hole; otherwise
  // at least every second full-sized segment, else within the delayed-ACK time. As Linux
  // (__tcp_ack_snd_check) we count bytes: more than one full segment unacknowledged is enough, so a
  // full segment plus a short tail is ACKed at once instead of waiting 40 ms, during which a Linux
  // sender's tail loss probe (10 ms with two segments out) would retransmit for nothing.
  if (out_of_order || (had_holes && had_payload)) {
    ack_now_ = true;
  } else if (unacked_bytes_ > rcv_mss_) {
    ack_now_ = true;
  } else if (unacked_bytes_ > 0 && !delack_at_) {
    delack_at_ = now + config().delayed_ack;
  }
}

// ---------------------------------------------------------------------------------------------
// Output

std::optional<Instant> TcpConnection::PollAt() const {
  std::optional<Instant> t;
  MinInto(t, rto_at_);
  MinInto(t, persist_at_);
  MinInto(t, delack_at_);
  MinInto(t, timewait_at_);
  MinInto(t, finwait2_at_);
  MinInto(t, tlp_at_);
  return t;
}

void TcpConnection::HandleTimers(Instant now) {
  if (timewait_at_ && now >= *timewait_at_) {
    timewait_at_.reset();
    set_state(TcpState::kClosed);
    return;
  }
  if (finwait2_at_ && now >= *finwait2_at_) {
    finwait2_at_.reset();
    set_state(TcpState::kClosed);
    return;
  }
  if (state_ == TcpState::kFinWait2 && app_closed_ && !finwait2_at_) {
    finwait2_at_ = now + config().fin_wait2_timeout;  // an orphan may not wait forever for the FIN
  }
  if (tlp_at_ && now >= *tlp_at_) {
    // RFC 8985 7.3: whether or not a probe can go, the RTO is re-armed from now (it stays the last
    // resort); the PTO is capped by the RTO, so this also keeps an RTO due now from firing first.
    tlp_at_.reset();
    tlp_due_ = true;
    rto_at_ = now + rtt_.rto();
  }
  if (rto_at_ && now >= *rto_at_) {
    rto_at_.reset();
    OnRetransmitTimeout(now);
  }
  if (persist_at_ && now >= *persist_at_) {
    persist_at_.reset();
    probe_due_ = true;
  }
  if (delack_at_ && now >= *delack_at_) {
    delack_at_.reset();
    if (unacked_bytes_ > 0) {
      counters().Inc(TcpCounter::kDelayedAcks);
      ack_now_ = true;
    }
  }
}

void TcpConnection::OnRetransmitTimeout(Instant now) {
  counters().Inc(TcpCounter::kTimeouts);
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) {
    if (++retransmits_ > config().syn_retries) {
      counters().Inc(TcpCounter::kAttemptFails);
      if (passive_) {
        set_state(TcpState::kClosed);
      } else {
        Fail(TcpError::kTimedOut);
      }
      return;
    }
    rtt_.Backoff();
    rtt_timed_.reset();
    snd_nxt_ = iss_;  // the next Dispatch sends the SYN (or SYN-ACK) again
    return;
  }
  if (snd_nxt_ == snd_una_ && snd_max_ == snd_una_) return;
  if (++retransmits_ > config().max_retransmits) {
    counters().Inc(TcpCounter::kTimeoutAborts);
    Fail(TcpError::kTimedOut);  // as Linux: no RST, the peer is presumed unreachable
    return;
  }
  // RFC 5681 3.1 / RFC 6298 5.4-5.6: collapse the window, back off, resend from SND.UNA.
  cc_->OnRetransmissionTimeout(now, snd_max_ - snd_una_, retransmits_ == 1);
  ts_rtt_floor_ = TsNow(now);
  rtt_.Backoff();
  rtt_timed_.reset();
  in_recovery_ = false;
  rexmit_first_ = false;
  dupacks_ = 0;
  tlp_at_.reset();
  tlp_due_ = false;
  tlp_end_.reset();
  probe_lost_end_.reset();
  recover_ = snd_max_;  // RFC 6582 4: no fast retransmit for duplicates of what was outstanding
  scoreboard_.Clear();
  high_rxt_ = snd_una_;
  snd_nxt_ = snd_una_;
}

void TcpConnection::ArmPersistIfNeeded(Instant now) {
  if (!synchronized() || state_ == TcpState::kTimeWait) return;
  bool data_waiting = SeqLt(snd_nxt_, data_end());
  if (snd_wnd_ == 0 && data_waiting && snd_nxt_ == snd_una_ && !rto_at_ && !persist_at_ && !probe_due_) {
    // RFC 9293 3.8.6.1: probe a zero window, backing off exponentially like the RTO.
    std::int64_t d = rtt_.rto().micros;
    for (int i = 0; i < persist_backoff_ && d < config().rto_max.micros; ++i) d *= 2;
    persist_at_ = now + Duration{std::min(d, config().rto_max.micros)};
  }
}

bool TcpConnection::Dispatch(Instant now, const TcpEmit& emit) {
  send_possible_hint_ = false;
  HandleTimers(now);
  if (pending_rst_) {
    TcpRepr rst;
    rst.src_port = tuple_.local.port;
    rst.dst_port = tuple_.remote.port;
    rst.seq = *pending_rst_;
    rst.flags = kTcpRst;
    if (hook_) hook_->OnResetOut(rst);
    if (!emit(tuple_, rst)) return false;
    counters().Inc(TcpCounter::kOutSegs);
    counters().Inc(TcpCounter::kOutRsts);
    pending_rst_.reset();
  }
  switch (state_) {
    case TcpState::kClosed:
    case TcpState::kListen:
      bare_ack_owed_ = false;  // nothing to acknowledge any more
      return true;
    case TcpState::kSynSent:
    case TcpState::kSynReceived: {
      bool syn_ack = state_ == TcpState::kSynReceived;
      if (snd_nxt_ == iss_ || (syn_ack && ack_now_)) {
        if (!SendSegment(now, emit, iss_, syn_ack ? kTcpSyn | kTcpAck : kTcpSyn, {})) return false;
        if (retransmits_ > 0) counters().Inc(TcpCounter::kRetransSegs);
        snd_nxt_ = iss_ + 1;
        snd_max_ = SeqMax(snd_max_, snd_nxt_);
        if (!rto_at_) rto_at_ = now + rtt_.rto();
        if (retransmits_ == 0 && !rtt_timed_) rtt_timed_ = std::make_pair(iss_, now);
      }
      ack_now_ = false;
      return true;
    }
    default:
      break;
  }
  if (tlp_due_ && !SendLossProbe(now, emit)) return false;
  if (!SendData(now, emit)) return false;
  if (probe_due_) {
    probe_due_ = false;
    if (snd_wnd_ == 0 && snd_nxt_ == snd_una_ && SeqLt(snd_una_, data_end())) {
      // One byte past the closed window: the receiver answers with an ACK carrying its window.
      if (!SendSegment(now, emit, snd_una_, kTcpAck, tx_.Peek(0, 1))) {
        probe_due_ = true;
        return false;
      }
      probe_end_ = snd_una_ + 1;
      ++persist_backoff_;
      counters().Inc(TcpCounter::kZeroWindowProbes);
    }
  }
  if (ack_now_ || bare_ack_owed_) {
    // A bare ACK carries SND.MAX: after a timeout rewound SND.NXT, the peer may already hold more.
    if (!SendSegment(now, emit, snd_max_, kTcpAck, {})) return false;
  }
  ArmPersistIfNeeded(now);
  return true;
}

std::uint32_t TcpConnection::Pipe() const {
  std::uint32_t flight = snd_nxt_ - snd_una_;
  if (!sack_ok_) {
    // NewReno without SACK (RFC 6582): each duplicate ACK means one segment left the network.
    std::uint32_t gone = dupacks_ * smss_;
    return flight > gone ? flight - gone : 0;
  }
  // RFC 6675 SetPipe(): un-SACKed bytes not deemed lost, plus retransmitted bytes.
  std::uint32_t lost = LostEnd();
  std::uint32_t pipe = scoreboard_.UnsackedBytes(SeqMax(lost, snd_una_), snd_nxt_);
  pipe += scoreboard_.UnsackedBytes(snd_una_, SeqMin(high_rxt_, snd_nxt_));
  return pipe;
}

bool TcpConnection::SendData(Instant now, const TcpEmit& emit) {
  if (!SendingState()) return true;
  for (;;) {
    if (in_recovery_ && SeqLt(snd_una_, snd_nxt_)) {
      // RFC 6675 NextSeg() rule 1 (and RFC 6582's single retransmission without SACK).
      std::optional<SackScoreboard::Range> hole;
      if (rexmit_first_) {
        std::uint32_t end = SeqMin(snd_una_ + smss_, snd_nxt_);
        if (!scoreboard_.empty()) end = SeqMin(end, scoreboard_.ranges().front().left);
        hole = SackScoreboard::Range{snd_una_, end};
      } else if (sack_ok_ && Pipe() < cc_->cwnd()) {
        std::uint32_t lost = LostEnd();
        hole = scoreboard_.NextHole(SeqMax(high_rxt_, snd_una_), SeqMin(lost, snd_nxt_));
        if (hole) hole->right = SeqMin(hole->right, hole->left + smss_);
      }
      if (hole) {
        bool fin_in_hole = tx_closed_ && SeqInRange(fin_seq_, hole->left, hole->right);
        EmitResult r = EmitData(now, emit, hole->left, hole->right - hole->left, fin_in_hole);
        if (r == EmitResult::kBlocked) return false;
        rexmit_first_ = false;
        if (r == EmitResult::kSent) {
          high_rxt_ = SeqMax(high_rxt_, hole->right);
          continue;
        }
      }
    }
    // New data (RFC 6675 NextSeg() rule 2 while in recovery).
    std::uint32_t dend = data_end();
    std::uint32_t avail = SeqLt(snd_nxt_, dend) ? dend - snd_nxt_ : 0;
    bool fin_todo = tx_closed_ && SeqLe(snd_nxt_, fin_seq_);
    std::uint32_t wnd_end = snd_una_ + snd_wnd_;
    std::uint32_t wnd_avail = SeqGt(wnd_end, snd_nxt_) ? wnd_end - snd_nxt_ : 0;
    std::uint32_t cwnd = cc_->cwnd();
    std::uint32_t used = in_recovery_ ? Pipe() : snd_nxt_ - snd_una_;
    std::uint32_t cc_avail = used < cwnd ? cwnd - used : 0;
    std::uint32_t len = std::min({avail, wnd_avail, cc_avail, static_cast<std::uint32_t>(smss_)});
    bool fin = fin_todo && snd_nxt_ + len == fin_seq_ && cc_avail > 0;
    if (len == 0 && !fin) break;
    // Nagle (RFC 9293 3.7.4) and sender-side SWS avoidance (3.8.6.2.1): hold back a runt while
    // data is unacknowledged, unless nodelay and the runt is all there is.
    if (len > 0 && len < smss_ && snd_nxt_ != snd_una_ && !fin && !(config().nodelay && len == avail)) break;
    EmitResult r = EmitData(now, emit, snd_nxt_, len, fin);
    if (r == EmitResult::kBlocked) return false;
    if (r == EmitResult::kNothing) break;
  }
  return true;
}

TcpConnection::EmitResult TcpConnection::EmitData(Instant now, const TcpEmit& emit, std::uint32_t seq,
                                                  std::uint32_t max_len, bool fin_allowed) {
  std::uint32_t dend = data_end();
  std::span<const std::uint8_t> payload = PayloadAt(seq, max_len);
  std::uint32_t end = seq + static_cast<std::uint32_t>(payload.size());
  bool fin = fin_allowed && tx_closed_ && end == fin_seq_;
  if (payload.empty() && !fin) return EmitResult::kNothing;
  std::uint8_t flags = kTcpAck;
  if (fin) flags |= kTcpFin;
  if (!payload.empty() && end == dend) flags |= kTcpPsh;
  if (!SendSegment(now, emit, seq, flags, payload)) return EmitResult::kBlocked;
  std::uint32_t seg_end = end + (fin ? 1 : 0);
  if (SeqLt(seq, snd_max_)) {
    counters().Inc(TcpCounter::kRetransSegs);
    rtt_timed_.reset();  // Karn
  } else if (!ts_ok_ && !rtt_timed_) {
    rtt_timed_ = std::make_pair(seq, now);
  }
  const bool new_data = SeqGt(seg_end, snd_max_);
  if (seq == snd_nxt_) snd_nxt_ = seg_end;
  snd_max_ = SeqMax(snd_max_, seg_end);
  if (!rto_at_) rto_at_ = now + rtt_.rto();
  if (new_data) ArmLossProbe(now);  // RFC 8985 7.2 (a probe of new data disarms it again)
  return EmitResult::kSent;
}

std::span<const std::uint8_t> TcpConnection::PayloadAt(std::uint32_t seq, std::uint32_t max_len) const {
  const std::uint32_t dend = data_end();
  // SACK blocks ride on data segments too (bidirectional transfers); like Linux's tcp_current_mss,
  // the payload shrinks so that header, options and payload still fit the MTU.
  const std::uint32_t sack_len = SackOptionLen() + HookSpace();
  if (max_len + sack_len > smss_) max_len = smss_ > sack_len ? smss_ - sack_len : 0;
  if (hook_) max_len = std::min(max_len, hook_->PayloadLimit(seq));
  if (max_len == 0 || !SeqLt(seq, dend)) return {};
  return tx_.Peek(seq - snd_una_, std::min(max_len, dend - seq));
}

// ---------------------------------------------------------------------------------------------
// Tail loss probe (RFC 8985 7)

void TcpConnection::ArmLossProbe(Instant now) {
  tlp_at_.reset();
  if (!SendingState()) return;
  // RFC 8985 7.2: only with SACK, in the open state (not in fast recovery, nor in the go-back-N
  // after a timeout, which lasts until SND.UNA reaches recover_), one probe at a time.
  if (!config().tail_loss_probe || !sack_ok_ || in_recovery_ || SeqLt(snd_una_, recover_) || tlp_end_) return;
  if (snd_max_ == snd_una_ || snd_nxt_ != snd_max_ || snd_wnd_ == 0) return;
  Duration pto = kLossProbeNoRtt;
  if (rtt_.has_sample()) {
    // RFC 8985 7.2: 2*SRTT, plus the worst-case delayed ACK when only one segment is out (the
    // receiver may be waiting for a second one).
    const Duration extra = snd_max_ - snd_una_ <= smss_ ? kWorstCaseDelayedAck : kLossProbeSlack;
    pto = Duration{2 * rtt_.srtt().micros + extra.micros};
  }
  Instant at = now + pto;
  if (rto_at_ && *rto_at_ < at) at = *rto_at_;  // "If Now() + PTO > TCP_RTO_expire()"
  tlp_at_ = at;
}

bool TcpConnection::SendLossProbe(Instant now, const TcpEmit& emit) {
  tlp_due_ = false;
  if (!SendingState()) return true;
  if (in_recovery_ || tlp_end_ || snd_max_ == snd_una_ || snd_nxt_ != snd_max_ || snd_wnd_ == 0) return true;
  // RFC 8985 7.3: "If a previously unsent segment exists AND the receive window allows new data to
  // be sent", send it (the congestion window does not hold a probe back); else retransmit the
  // highest-sequence segment sent so far.
  const std::uint32_t dend = data_end();
  const std::uint32_t wnd_end = snd_una_ + snd_wnd_;
  const std::uint32_t avail = SeqLt(snd_nxt_, dend) ? dend - snd_nxt_ : 0;
  const std::uint32_t wnd_avail = SeqGt(wnd_end, snd_nxt_) ? wnd_end - snd_nxt_ : 0;
  const bool fin_unsent = tx_closed_ && snd_nxt_ == fin_seq_;
  std::uint32_t seq = snd_nxt_;
  EmitResult r = EmitResult::kNothing;
  bool retrans = false;
  if ((avail > 0 && wnd_avail > 0) || (avail == 0 && fin_unsent)) {
    std::uint32_t len = std::min({avail, wnd_avail, static_cast<std::uint32_t>(smss_)});
    r = EmitData(now, emit, seq, len, snd_nxt_ + len == fin_seq_);
  }
  if (r == EmitResult::kNothing) {
    // The last segment as it was sent: its end is SND.MAX (less our FIN); its start lies a segment
    // below, moved up to where PayloadLimit or a send-queue chunk would end a segment before it.
    const bool fin_sent = tx_closed_ && SeqGt(snd_max_, fin_seq_);
    const std::uint32_t hi = fin_sent ? fin_seq_ : SeqMin(snd_max_, dend);
    const std::uint32_t room = static_cast<std::uint32_t>(PayloadAt(snd_una_, smss_).size());
    seq = SeqLt(snd_una_, hi) ? hi - std::min(hi - snd_una_, std::max<std::uint32_t>(room, 1)) : hi;
    for (int i = 0; i < 4 && SeqLt(seq, hi); ++i) {
      const auto n = static_cast<std::uint32_t>(PayloadAt(seq, hi - seq).size());
      if (n == 0 || seq + n == hi) break;
      seq += n;
    }
    retrans = true;
    r = EmitData(now, emit, seq, hi - seq, fin_sent);
  }
  if (r == EmitResult::kBlocked) {
    tlp_due_ = true;
    return false;
  }
  tlp_at_.reset();
  if (r == EmitResult::kSent) {
    counters().Inc(TcpCounter::kLossProbes);
    tlp_seq_ = seq;
    tlp_end_ = snd_nxt_;
    tlp_retrans_ = retrans;
  }
  rto_at_ = now + rtt_.rto();  // RFC 8985 7.3: the RTO, not another PTO
  return true;
}

void TcpConnection::ProcessLossProbeAck(Instant now, const TcpRepr& seg, bool una_advanced) {
  if (!tlp_end_) return;
  // RACK (RFC 8985 6.2) for the probe: once any of it is SACKed, the un-SACKed bytes below it were
  // sent before it by at least the PTO (> RACK's reordering window) and count as lost: the ACK of
  // the probe starts fast recovery instead of leaving a lost tail to the RTO.
  if (SeqLt(snd_una_, tlp_seq_)) {
    for (const auto& r : scoreboard_.ranges()) {
      if (SeqLt(r.left, *tlp_end_) && SeqGt(r.right, tlp_seq_)) {
        probe_lost_end_ = tlp_seq_;
        break;
      }
    }
  }
  // RFC 8985 7.4: was the probe's retransmission the repair of a loss?
  if (SeqLt(seg.ack, *tlp_end_)) return;
  if (!tlp_retrans_) {
    tlp_end_.reset();  // a probe of new data was delivered: nothing to infer
    return;
  }
  // RFC 2883: a D-SACK (first block below the ACK or inside the second) for the probe: the original
  // arrived too, nothing was lost.
  if (seg.sack_count > 0) {
    const TcpSackBlock& d = seg.sack[0];
    const bool dsack = SeqLt(d.left, seg.ack) ||
                       (seg.sack_count > 1 && SeqGe(d.left, seg.sack[1].left) && SeqLe(d.right, seg.sack[1].right));
    if (dsack && SeqLt(d.left, *tlp_end_) && SeqGt(d.right, tlp_seq_)) {
      tlp_end_.reset();
      return;
    }
  }
  if (SeqGt(seg.ack, *tlp_end_)) {
    // Acknowledged beyond the probe without a D-SACK: the probe repaired a single loss, which
    // calls for the congestion response of a recovery that has already ended (as Linux's CWR).
    tlp_end_.reset();
    counters().Inc(TcpCounter::kLossProbeRecovery);
    cc_->OnCongestionEvent(now, snd_max_ - snd_una_);
    cc_->OnRecoveryExit(now);
    return;
  }
  if (!una_advanced && seg.sack_count == 0 && seg.payload.empty()) {
    tlp_end_.reset();  // a plain duplicate ACK: original and probe both arrived
  }
}

std::uint32_t TcpConnection::LostEnd() const {
  std::uint32_t lost = scoreboard_.LostBoundary(snd_una_, LostThreshold());
  if (probe_lost_end_ && SeqGt(*probe_lost_end_, lost)) lost = *probe_lost_end_;
  return lost;
}

std::uint16_t TcpConnection::WindowToAdvertise(bool syn) {
  std::size_t free = rx_.window();
  if (syn) return static_cast<std::uint16_t>(std::min<std::size_t>(free, 65535));
  std::uint32_t cur = SeqGt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  std::size_t wnd = free;
  // RFC 9293 3.8.6.2.2: move the right edge only by at least min(buffer/2, MSS) (receiver SWS),
  // and never back (no shrinking).
  if (wnd > cur && wnd - cur < std::min<std::size_t>(rx_.capacity() / 2, rcv_mss_)) wnd = cur;
  if (wnd < cur) wnd = cur;
  std::size_t scaled = wnd >> rcv_wscale_;
  if ((scaled << rcv_wscale_) < cur) ++scaled;  // rounding must not shrink it either (RFC 7323 2.4)
  return static_cast<std::uint16_t>(std::min<std::size_t>(scaled, 65535));
}

bool TcpConnection::SendSegment(Instant now, const TcpEmit& emit, std::uint32_t seq, std::uint8_t flags,
                                std::span<const std::uint8_t> payload) {
  TcpRepr r;
  r.src_port = tuple_.local.port;
  r.dst_port = tuple_.remote.port;
  r.seq = seq;
  bool syn = (flags & kTcpSyn) != 0;
  r.flags = flags;
  if (state_ != TcpState::kSynSent) {
    r.flags |= kTcpAck;
    r.ack = rcv_nxt_;
  }
  r.window = WindowToAdvertise(syn);
  if (syn) {
    r.mss = OurMss();
    if (state_ == TcpState::kSynSent) {  // offer everything we support
      if (config().window_scaling) r.window_scale = rcv_wscale_;
      r.sack_permitted = config().sack;
      if (config().timestamps) r.timestamp = TcpTimestamp{TsNow(now), 0};
    } else {  // answer only what the peer offered
      if (ws_ok_) r.window_scale = rcv_wscale_;
      r.sack_permitted = sack_ok_;
      if (ts_ok_) r.timestamp = TcpTimestamp{TsNow(now), ts_recent_};
    }
  } else if (ts_ok_) {
    r.timestamp = TcpTimestamp{TsNow(now), ts_recent_};
  }
  if (sack_ok_ && !syn && !assembler_.empty()) {
    // RFC 2018 4: the block holding the latest segment first, then the others.
    const auto& ranges = assembler_.ranges();
    std::size_t max_blocks = SackBlocksToSend(!payload.empty());
    std::size_t first = std::min(assembler_.last_index(), ranges.size() - 1);
    auto add = [&](const Assembler::Range& a) {
      if (r.sack_count < max_blocks) r.sack[r.sack_count++] = TcpSackBlock{rcv_nxt_ + a.begin, rcv_nxt_ + a.end};
    };
    add(ranges[first]);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      if (i != first) add(ranges[i]);
    }
  }
  r.payload = payload;
  if (hook_) hook_->OnSegmentOut(r, state_);
  if (!emit(tuple_, r)) return false;
  counters().Inc(TcpCounter::kOutSegs);
  if (r.flags & kTcpAck) {
    last_ack_sent_ = rcv_nxt_;
    std::uint32_t adv = static_cast<std::uint32_t>(r.window) << (syn ? 0 : rcv_wscale_);
    rcv_adv_ = SeqMax(rcv_adv_, rcv_nxt_ + adv);
    ack_now_ = false;
    if (payload.empty()) bare_ack_owed_ = false;
    delack_at_.reset();
    unacked_bytes_ = 0;
  }
  return true;
}

std::size_t TcpConnection::SackBlocksToSend(bool payload) const {
  if (!sack_ok_ || assembler_.empty()) return 0;
  std::size_t max_blocks = ts_ok_ ? kMaxSackBlocksWithTimestamps : TcpRepr{}.sack.size();
  if (const std::uint32_t hook = HookSpace(payload); hook > 0) {
    // What the hook leaves of the 40 option bytes, less the timestamp's 12 and SACK's own 4.
    const std::uint32_t used = hook + (ts_ok_ ? kTimestampOptionLen : 0) + 4;
    max_blocks = std::min<std::size_t>(max_blocks, used < 40 ? (40 - used) / 8 : 0);
  }
  return std::min(max_blocks, assembler_.ranges().size());
}

std::uint32_t TcpConnection::SackOptionLen() const {
  const std::size_t n = SackBlocksToSend();
  return n == 0 ? 0 : static_cast<std::uint32_t>(4 + 8 * n);  // NOP, NOP, kind, length, blocks
}

}  // namespace braid::ustack
