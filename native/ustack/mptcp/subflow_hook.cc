#include "ustack/mptcp/subflow_hook.h"

#include "ustack/mptcp/dss_checksum.h"
#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {
namespace {

// MP_CAPABLE ACK with data and checksum is 24 bytes; the 22-byte form is padded to 24 as well.
constexpr std::uint32_t kMpcAckSpace = kLenMpcAckDataCsum;

std::uint32_t Align4(std::uint32_t n) { return (n + 3) & ~std::uint32_t{3}; }

}  // namespace

const char* HandshakeCounterName(HandshakeCounter c) {
  switch (c) {
#define BRAID_MPTCP_HANDSHAKE_NAME(name, help) \
  case HandshakeCounter::k##name:              \
    return #name;
    BRAID_MPTCP_HANDSHAKE_COUNTERS(BRAID_MPTCP_HANDSHAKE_NAME)
#undef BRAID_MPTCP_HANDSHAKE_NAME
    default:
      return "?";
  }
}

const char* HandshakeCounterHelp(HandshakeCounter c) {
  switch (c) {
#define BRAID_MPTCP_HANDSHAKE_HELP(name, help) \
  case HandshakeCounter::k##name:              \
    return help;
    BRAID_MPTCP_HANDSHAKE_COUNTERS(BRAID_MPTCP_HANDSHAKE_HELP)
#undef BRAID_MPTCP_HANDSHAKE_HELP
    default:
      return "?";
  }
}

const char* SubflowHook::StateName(State s) {
  switch (s) {
    case State::kInit:
      return "init";
    case State::kMpcOffered:
      return "mpc-offered";
    case State::kMpcPending:
      return "mpc-pending";
    case State::kEstablished:
      return "established";
    case State::kFallback:
      return "fallback";
  }
  return "?";
}

SubflowHook::SubflowHook(SubflowContext& ctx, Role role, std::uint64_t owner)
    : ctx_(ctx), role_(role), owner_(owner) {}

SubflowHook::~SubflowHook() { OnClosed(); }

void SubflowHook::OnClosed() {
  if (token_held_) ctx_.tokens.Erase(local_->token);
  token_held_ = false;
}

std::uint32_t SubflowHook::ReservedOptionSpace() const {
  const std::uint32_t data = Align4(DataOptionSpace());
  switch (state_) {
    case State::kMpcPending:
      return role_ == Role::kClient ? std::max(kMpcAckSpace, data) : data;
    case State::kEstablished:
      return data;
    default:
      return 0;
  }
}

bool SubflowHook::DrawKey() {
  local_ = ctx_.tokens.NewKey(owner_);
  if (!local_) return false;  // the caller falls back, counting kNoToken
  token_held_ = true;
  return true;
}

bool SubflowHook::UsableMpc(const MpCapable& m, bool on_syn) {
  // Linux's mptcp_parse_option: a higher version is tolerated on the SYN only (we answer with v1,
  // RFC 8684 3.1); H must be the only algorithm bit and B unset.
  const bool version_ok = on_syn ? m.version >= kMptcpVersion : m.version == kMptcpVersion;
  if (version_ok && m.hmac_sha256 && !m.extensibility && m.reserved_flags == 0) return true;
  ctx_.counters.Inc(HandshakeCounter::kMpCapableIgnored);
  return false;
}

void SubflowHook::Fallback(HandshakeCounter why) {
  ctx_.counters.Inc(why);
  OnClosed();  // a plain TCP connection needs no token: free it for others at once
  state_ = State::kFallback;
  OnFallback();
}

void SubflowHook::FallBackEstablished() {
  if (state_ == State::kFallback) return;
  OnClosed();  // no MP_JOIN can name a fallen-back connection: its token is free
  state_ = State::kFallback;
  OnFallback();
}

void SubflowHook::Established() {
  state_ = State::kEstablished;
  OnMptcpEstablished();
}

bool SubflowHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  // RFC 8684 3.7: once fallen back, MPTCP options are ignored.
  if (state_ == State::kFallback) return true;
  ReceivedOptions opts;
  ParseOptions(seg, &opts);
  return role_ == Role::kClient ? ClientIn(seg, state, opts) : ServerIn(seg, state, opts);
}

bool SubflowHook::ClientIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts) {
  if (state == TcpState::kSynSent) {
    irs_ = seg.seq;
    if (state_ != State::kMpcOffered) return true;
    // RFC 8684 3.1: a SYN/ACK without MP_CAPABLE means the server (or a middlebox) does not speak
    // MPTCP: plain TCP. A simultaneous open (SYN without ACK) is not MPTCP either.
    if (!seg.has(kTcpAck) || !opts.has(kOptMpcSynAck) || !UsableMpc(opts.mpc, false)) {
      Fallback(HandshakeCounter::kFallbackSynAck);
      return true;
    }
    ctx_.counters.Inc(HandshakeCounter::kMpCapableSynAckRx);
    remote_ = DeriveKey(*opts.mpc.sender_key);
    checksum_ = ctx_.config.checksum || opts.mpc.checksum_required;
    remote_no_join_id0_ = opts.mpc.no_join_id0;
    state_ = State::kMpcPending;
    OnMptcpEstablished();
    return true;
  }
  if (!is_mptcp()) return true;
  // The server acknowledged past our third ACK's sequence number (so it got the MP_CAPABLE ACK or
  // its data form) or sent a DSS: the handshake is confirmed (Linux: fully established).
  if (state_ == State::kMpcPending && (SeqGt(seg.ack, iss_ + 1) || opts.has(kOptDss))) state_ = State::kEstablished;
  return OnDataSegmentIn(seg, opts);
}

bool SubflowHook::ServerIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts) {
  if (seg.has(kTcpSyn)) {
    if (state != TcpState::kSynReceived || state_ != State::kInit) return true;
    irs_ = seg.seq;
    if (!opts.has(kOptMpcSyn) || !UsableMpc(opts.mpc, true)) {
      state_ = State::kFallback;  // a plain TCP SYN: nothing offered, nothing to count
      return true;
    }
    ctx_.counters.Inc(HandshakeCounter::kMpCapableSynRx);
    if (!DrawKey()) {
      Fallback(HandshakeCounter::kNoToken);
      return true;
    }
    checksum_ = ctx_.config.checksum || opts.mpc.checksum_required;
    remote_no_join_id0_ = opts.mpc.no_join_id0;
    state_ = State::kMpcOffered;
    return true;
  }
  if (state_ == State::kMpcOffered) {
    // Out-of-order data before the third ACK: wait for the in-order segment (as Linux).
    if (seg.seq != irs_ + 1) return true;
    // RFC 8684 3.1: the first ACK carries both keys (the MP_CAPABLE ACK, or its data form if the
    // pure ACK was lost). Without it the client is not speaking MPTCP: plain TCP.
    if (!opts.has(kOptMpcAck) || !UsableMpc(opts.mpc, false)) {
      Fallback(HandshakeCounter::kFallbackAck);
      return true;
    }
    if (*opts.mpc.receiver_key != local_->key) {
      Fallback(HandshakeCounter::kFallbackKeyMismatch);
      return true;
    }
    ctx_.counters.Inc(HandshakeCounter::kMpCapableAckRx);
    remote_ = DeriveKey(*opts.mpc.sender_key);
    checksum_ = checksum_ || opts.mpc.checksum_required;
    Established();
  }
  if (!is_mptcp()) return true;
  return OnDataSegmentIn(seg, opts);
}

void SubflowHook::OnSegmentOut(TcpRepr& seg, TcpState /*state*/) {
  out_.Clear();
  if (role_ == Role::kClient) {
    ClientOut(seg);
  } else {
    ServerOut(seg);
  }
}

void SubflowHook::ClientOut(TcpRepr& seg) {
  if (seg.has(kTcpSyn)) {
    if (seg.has(kTcpAck)) return;  // simultaneous open: not MPTCP
    iss_ = seg.seq;
    ++syns_sent_;
    if (state_ == State::kInit) {
      if (!DrawKey()) {
        Fallback(HandshakeCounter::kNoToken);
        return;
      }
      state_ = State::kMpcOffered;
    }
    if (state_ != State::kMpcOffered) return;
    // A middlebox may drop SYNs with unknown options: after a few tries, plain TCP.
    if (syns_sent_ > 1 + ctx_.config.syn_retries_with_mpc) {
      Fallback(HandshakeCounter::kFallbackSynRetries);
      return;
    }
    MpCapable m;
    m.checksum_required = ctx_.config.checksum;
    m.no_join_id0 = !ctx_.config.allow_join_id0;
    if (out_.Append(m, &seg) == wire::WireError::kOk) ctx_.counters.Inc(HandshakeCounter::kMpCapableSynTx);
    return;
  }
  if (!is_mptcp()) return;
  // RFC 8684 3.1: the third ACK and, until the server confirms, the first data segment (SSN 1)
  // carry both keys; with data, the data-level length (and checksum) of its implicit mapping.
  if (state_ == State::kMpcPending && seg.seq == iss_ + 1) {
    MpCapable m;
    m.checksum_required = checksum_;
    m.no_join_id0 = !ctx_.config.allow_join_id0;
    m.sender_key = local_->key;
    m.receiver_key = remote_->key;
    if (!seg.payload.empty()) ImplicitMapping(seg, m);
    out_.Append(m, &seg);
    return;
  }
  OnDataSegmentOut(seg, out_);
}

void SubflowHook::ImplicitMapping(const TcpRepr& seg, MpCapable& m) {
  const auto len = static_cast<std::uint16_t>(seg.payload.size());
  m.data_len = len;
  if (checksum_) m.checksum = DssChecksum(local_->idsn + 1, 1, len, seg.payload);
}

void SubflowHook::ServerOut(TcpRepr& seg) {
  if (seg.has(kTcpSyn)) {
    if (state_ != State::kMpcOffered) return;
    MpCapable m;
    m.checksum_required = checksum_;
    m.no_join_id0 = !ctx_.config.allow_join_id0;
    m.sender_key = local_->key;
    if (out_.Append(m, &seg) == wire::WireError::kOk) ctx_.counters.Inc(HandshakeCounter::kMpCapableSynAckTx);
    return;
  }
  if (is_mptcp()) OnDataSegmentOut(seg, out_);
}

}  // namespace braid::ustack::mptcp
