#include "ustack/mptcp/join_hook.h"

#include "ustack/mptcp/crypto.h"

namespace braid::ustack::mptcp {

namespace {
constexpr std::uint32_t kDssReserved = (kDssSpace + 3) & ~3u;
}  // namespace

JoinHook::JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters)
    : counters_(counters) {
  if (conn) dss_.emplace(std::move(conn), id);
}

JoinHook::JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters, Active active)
    : counters_(counters), active_(true), local_backup_(active.backup), local_id_(active.local_id) {
  if (conn) dss_.emplace(std::move(conn), id);
  local_nonce_ = static_cast<std::uint32_t>(RandomU64());
}

std::uint32_t JoinHook::ReservedOptionSpace() const {
  if (joined_) return kDssReserved;
  return active_ && synack_ok_ ? kLenMpjAck : 0;
}

std::uint32_t JoinHook::AckOptionSpace() const {
  if (joined_ && dss_) return dss_->AckSpace();
  return active_ && synack_ok_ ? kLenMpjAck : 0;
}

bool JoinHook::ActiveIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts) {
  if (!dss_ || !dss_->conn()->msk) return false;
  MptcpConnState& c = *dss_->conn();
  if (state == TcpState::kSynSent) {
    // RFC 8684 3.2: the SYN/ACK proves the peer holds both keys; without MP_JOIN it is no join.
    if (!seg.has(kTcpSyn) || !seg.has(kTcpAck) || !opts.has(kOptMpjSynAck)) {
      ++counters_.synack_missing;
      return false;
    }
    remote_nonce_ = opts.mpj_synack.nonce;
    const std::uint64_t want = JoinSynAckHmac(c.remote_key->key, c.local_key->key, remote_nonce_, local_nonce_);
    if (want != opts.mpj_synack.hmac) {
      ++counters_.synack_hmac_failure;
      return false;
    }
    ++counters_.synack_rx;
    synack_ok_ = true;
    remote_id_ = opts.mpj_synack.address_id;
    backup_ = opts.mpj_synack.backup;
    dss_->OnSynIn(seg);
    return true;
  }
  if (seg.has(kTcpSyn)) return true;  // a repeated SYN/ACK: our third ACK was lost; the ACK repeats it
  if (!joined_) {
    // The peer's first segment after our third ACK carries its DSS: the join is confirmed.
    if (!opts.has(kOptDss)) return true;
    joined_ = true;
    c.joined_ever = true;  // RFC 8684 3.7: no fallback to TCP once a second subflow exists
    ++counters_.fully_established;
    SubflowParams p;
    p.established = true;
    p.backup = backup_ || local_backup_;
    c.msk->AddSubflow(dss_->id(), p);
  }
  return dss_->In(seg, opts);
}

void JoinHook::ActiveOut(TcpRepr& seg) {
  MptcpConnState& c = *dss_->conn();
  if (seg.has(kTcpSyn)) {
    if (!c.msk || !c.remote_key) return;
    dss_->OnSynOut(seg);
    MpJoinSyn j;
    j.backup = local_backup_;
    j.address_id = local_id_;
    j.token = c.remote_key->token;
    j.nonce = local_nonce_;
    if (out_.Append(j, &seg) == wire::WireError::kOk && !syn_seen_) ++counters_.syn_tx;
    syn_seen_ = true;
    return;
  }
  if (joined_) {
    dss_->Out(seg, out_);
  } else if (synack_ok_) {
    // RFC 8684 3.2: the third ACK, on every segment until the peer confirms it.
    MpJoinAck j;
    j.hmac = JoinThirdAckHmac(c.local_key->key, c.remote_key->key, local_nonce_, remote_nonce_);
    out_.Append(j, &seg);
  }
}

bool JoinHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  ReceivedOptions opts;
  ParseOptions(seg, &opts);
  if (active_) return ActiveIn(seg, state, opts);
  if (seg.has(kTcpSyn)) {
    if (state != TcpState::kSynReceived) return true;
    if (!dss_ || !dss_->conn()->msk || !opts.has(kOptMpjSyn)) {
      ++counters_.no_token;
      return false;
    }
    // A retransmitted SYN keeps the nonces: a SYN/ACK already sent stays valid.
    if (syn_seen_) return true;
    syn_seen_ = true;
    ++counters_.syn_rx;
    dss_->OnSynIn(seg);
    remote_nonce_ = opts.mpj_syn.nonce;
    backup_ = opts.mpj_syn.backup;
    remote_id_ = opts.mpj_syn.address_id;
    local_nonce_ = static_cast<std::uint32_t>(RandomU64());
    return true;
  }
  if (!dss_) return false;
  MptcpConnState& c = *dss_->conn();
  if (!joined_) {
    // RFC 8684 3.2: the third ACK proves the peer knows both keys.
    if (!opts.has(kOptMpjAck)) {
      ++counters_.ack_missing;
      return false;
    }
    const JoinAckHmac want = JoinThirdAckHmac(c.remote_key->key, c.local_key->key, remote_nonce_, local_nonce_);
    if (!HmacEqual(want, opts.mpj_ack.hmac)) {
      ++counters_.ack_hmac_failure;
      return false;
    }
    ++counters_.ack_rx;
    joined_ = true;
    c.joined_ever = true;  // RFC 8684 3.7: no fallback to TCP once a second subflow exists
    SubflowParams p;
    p.established = true;
    p.backup = backup_ || local_backup_;
    c.msk->AddSubflow(dss_->id(), p);
    c.ack_owed.insert(dss_->id());
  } else if (opts.has(kOptMpjAck)) {
    c.ack_owed.insert(dss_->id());  // the third ACK again: our fourth ACK was lost, send another
  }
  return dss_->In(seg, opts);
}

void JoinHook::OnSegmentOut(TcpRepr& seg, TcpState /*state*/) {
  out_.Clear();
  if (!dss_) return;
  if (active_) return ActiveOut(seg);
  MptcpConnState& c = *dss_->conn();
  if (seg.has(kTcpSyn)) {
    dss_->OnSynOut(seg);
    MpJoinSynAck j;
    j.backup = local_backup_;
    j.address_id = local_id_;
    j.nonce = local_nonce_;
    j.hmac = JoinSynAckHmac(c.local_key->key, c.remote_key->key, local_nonce_, remote_nonce_);
    out_.Append(j, &seg);
    return;
  }
  if (joined_) dss_->Out(seg, out_);
}

void JoinHook::OnResetOut(TcpRepr& rst) {
  if (joined_ && dss_) {
    dss_->ResetOut(rst, out_);
    return;
  }
  // A refusal (Linux subflow_add_reset_reason on the RST of a refused MP_JOIN).
  out_.Clear();
  MpTcprst r;
  r.reason = refuse_reason_;
  if (out_.Append(r, &rst) == wire::WireError::kOk && counters_.integrity != nullptr) {
    counters_.integrity->Inc(IntegrityCounter::kJoinRefusedRst);
    counters_.integrity->Inc(IntegrityCounter::kMpTcpRstTx);
  }
}

void JoinHook::OnResetIn(const TcpRepr& rst) {
  if (joined_ && dss_) dss_->ResetIn(rst);
}

std::uint32_t JoinHook::PayloadLimit(std::uint32_t seq) const {
  return joined_ && dss_ ? dss_->PayloadLimit(seq) : UINT32_MAX;
}

}  // namespace braid::ustack::mptcp
