#include "ustack/mptcp/dss_hook.h"

#include <algorithm>

#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

DssHook::DssHook(SubflowContext& ctx, Role role, std::uint64_t owner, std::shared_ptr<MptcpConnState> conn)
    : SubflowHook(ctx, role, owner), conn_(std::move(conn)) {}

bool DssHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) {
    irs_ = seg.seq;
    peer_scale_ = seg.window_scale;
    snd_wscale_ = we_scale_ && peer_scale_ ? std::min<std::uint8_t>(*peer_scale_, 14) : 0;
  }
  return SubflowHook::OnSegmentIn(seg, state);
}

void DssHook::OnSegmentOut(TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) {
    iss_ = seg.seq;
    we_scale_ = seg.window_scale.has_value();
    snd_wscale_ = we_scale_ && peer_scale_ ? std::min<std::uint8_t>(*peer_scale_, 14) : 0;
  }
  SubflowHook::OnSegmentOut(seg, state);
}

std::uint32_t DssHook::DataOptionSpace() const {
  // DSS with a 64-bit DATA_ACK and a 64-bit mapping (Linux sends both 64-bit), checksum if in use.
  return kLenDssBase + kLenDssAck64 + kLenDssMap64 + (checksum() ? kLenDssChecksum : 0);
}

std::uint32_t DssHook::PayloadLimit(std::uint32_t seq) const {
  if (!is_mptcp() || !conn_->msk) return UINT32_MAX;
  const std::uint32_t ssn = seq - iss_;
  const DssMapping* m = conn_->msk->MappingForSegment(kInitialSubflow, ssn);
  if (m == nullptr) return UINT32_MAX;  // not ours to cut (cannot happen for data the Msk assigned)
  return m->ssn + m->length - ssn;
}

void DssHook::OnMptcpEstablished() {
  if (conn_->msk) return;
  MskConfig cfg = conn_->msk_config;
  cfg.checksums = checksum();
  conn_->msk = std::make_unique<Msk>(cfg, local_key()->idsn, remote_key()->idsn);
  SubflowParams p;
  p.established = true;
  conn_->msk->AddSubflow(kInitialSubflow, p);
  conn_->data_ack_sent = conn_->msk->data_ack().ack;
}

void DssHook::OnFallback() { conn_->fallback = true; }

void DssHook::OnDataSegmentOut(TcpRepr& seg, OptionBuffer& out) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr) return;
  Dss d;
  d.data_ack = msk->data_ack();
  d.ack64 = true;
  d.dsn64 = true;
  if (!seg.payload.empty()) {
    const std::uint32_t ssn = seg.seq - iss_;
    if (const DssMapping* m = msk->MappingForSegment(kInitialSubflow, ssn)) {
      DssMapping w = *m;
      if (w.data_fin) ++w.length;  // RFC 8684 3.3.3: the DATA_FIN's octet counts in the length
      // TODO(checksums): a mapping's checksum covers all its bytes; not computed yet.
      d.mapping = w;
    }
  } else if (conn_->pending_data_fin) {
    DssMapping w = *conn_->pending_data_fin;
    w.ssn = 0;  // RFC 8684 3.3.3: a DATA_FIN on a segment without data: SSN 0, length 1
    w.length = 1;
    d.mapping = w;
    conn_->pending_data_fin.reset();
  }
  if (out.Append(d, &seg) == wire::WireError::kOk) conn_->data_ack_sent = d.data_ack->ack;
}

bool DssHook::OnDataSegmentIn(const TcpRepr& seg, const ReceivedOptions& opts) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr) return true;
  // RFC 8684 3.1: the client's first data may ride with its MP_CAPABLE ACK; the mapping is implicit.
  if (opts.has(kOptMpcAck) && opts.mpc.data_len && *opts.mpc.data_len > 0) {
    DssMapping m;
    m.dsn = remote_key()->idsn + 1;
    m.ssn = 1;
    m.length = *opts.mpc.data_len;
    m.checksum = opts.mpc.checksum;
    if (MappingStatusIsError(msk->OnMapping(kInitialSubflow, m))) {
      conn_->reset_by_hook = true;
      return false;
    }
  }
  if (!opts.has(kOptDss)) return true;
  const Dss& d = opts.dss;
  if (d.mapping) {
    DssMapping m = *d.mapping;
    if (!d.dsn64) m.dsn = msk->ExpandIncomingDsn(static_cast<std::uint32_t>(m.dsn));
    if (m.data_fin && m.length > 0) --m.length;  // the wire length counts the DATA_FIN
    if (m.data_fin && m.length == 0) m.ssn = 0;
    if (MappingStatusIsError(msk->OnMapping(kInitialSubflow, m))) {
      conn_->reset_by_hook = true;
      return false;
    }
  }
  if (d.data_ack && seg.has(kTcpAck)) {
    const std::uint64_t ack =
        d.ack64 ? d.data_ack->ack : msk->ExpandIncomingDataAck(static_cast<std::uint32_t>(d.data_ack->ack));
    msk->OnDataAck(kInitialSubflow, DataAck{ack}, static_cast<std::uint32_t>(seg.window) << snd_wscale_);
  }
  return true;
}

}  // namespace braid::ustack::mptcp
