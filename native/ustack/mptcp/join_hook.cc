#include "ustack/mptcp/join_hook.h"

#include "ustack/mptcp/crypto.h"

namespace braid::ustack::mptcp {

JoinHook::JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters)
    : counters_(counters) {
  if (conn) dss_.emplace(std::move(conn), id);
}

bool JoinHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  ReceivedOptions opts;
  ParseOptions(seg, &opts);
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
    p.backup = backup_;
    c.msk->AddSubflow(dss_->id(), p);
    c.ack_owed.insert(dss_->id());
  }
  return dss_->In(seg, opts);
}

void JoinHook::OnSegmentOut(TcpRepr& seg, TcpState /*state*/) {
  out_.Clear();
  if (!dss_) return;
  MptcpConnState& c = *dss_->conn();
  if (seg.has(kTcpSyn)) {
    dss_->OnSynOut(seg);
    MpJoinSynAck j;
    j.backup = false;
    j.address_id = 0;
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
