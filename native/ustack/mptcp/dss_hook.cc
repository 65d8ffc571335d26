#include "ustack/mptcp/dss_hook.h"

#include <algorithm>

#include "ustack/mptcp/dss_checksum.h"
#include "ustack/mptcp/join_hook.h"
#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

// ---- DssSubflow

void DssSubflow::OnSynOut(const TcpRepr& syn) {
  iss_ = syn.seq;
  we_scale_ = syn.window_scale.has_value();
  snd_wscale_ = we_scale_ && peer_scale_ ? std::min<std::uint8_t>(*peer_scale_, 14) : 0;
}

void DssSubflow::OnSynIn(const TcpRepr& syn) {
  peer_scale_ = syn.window_scale;
  snd_wscale_ = we_scale_ && peer_scale_ ? std::min<std::uint8_t>(*peer_scale_, 14) : 0;
}

std::uint32_t DssSubflow::PayloadLimit(std::uint32_t seq) const {
  if (!conn_->msk || conn_->fallback) return UINT32_MAX;
  const std::uint32_t ssn = seq - iss_;
  const DssMapping* m = conn_->msk->MappingForSegment(id_, ssn);
  if (m == nullptr) return UINT32_MAX;  // not ours to cut (cannot happen for data the Msk assigned)
  return m->ssn + m->length - ssn;
}

namespace {
// A signal too large to share a segment with the DATA_ACK (and timestamps) goes alone on its pure
// ACK, as Linux drops the other suboptions for an IPv6 ADD_ADDR or one with a port.
constexpr std::uint32_t kSignalRoom = 40 - 12;  // TCP option space less timestamps
std::uint32_t Align4(std::uint32_t n) { return (n + 3) & ~3u; }
}  // namespace

const Option* DssSubflow::NextSignal() const {
  auto it = conn_->signals_out.find(id_);
  return it == conn_->signals_out.end() || it->second.empty() ? nullptr : &it->second.front();
}

bool DssSubflow::SignalAlone() const {
  const Option* sig = NextSignal();
  return sig != nullptr && kLenDssBase + kLenDssAck64 + OptionLen(*sig) > kSignalRoom;
}

std::uint32_t DssSubflow::AckSpace() const {
  const bool fin = conn_->pending_data_fin.count(id_) != 0;
  if (fin) return Align4(kDssSpace);  // a signal waits for the next ACK
  const Option* sig = NextSignal();
  if (sig == nullptr) return kLenDssBase + kLenDssAck64;
  if (SignalAlone()) return Align4(static_cast<std::uint32_t>(OptionLen(*sig)));
  return Align4(kLenDssBase + kLenDssAck64 + static_cast<std::uint32_t>(OptionLen(*sig)));
}

void DssSubflow::Out(TcpRepr& seg, OptionBuffer& out) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr) return;
  const bool bare = seg.payload.empty() && !seg.has(kTcpSyn) && conn_->pending_data_fin.count(id_) == 0;
  if (bare && SignalAlone()) {
    // Alone on this ACK; dropped if it cannot go at all, or it would be asked for forever.
    out.Append(*NextSignal(), &seg);
    conn_->signals_out[id_].pop_front();
    return;
  }
  Dss d;
  d.data_ack = msk->data_ack();
  d.ack64 = true;
  d.dsn64 = true;
  if (!seg.payload.empty()) {
    if (const DssMapping* m = msk->MappingForSegment(id_, seg.seq - iss_)) {
      DssMapping w = *m;
      if (w.data_fin) ++w.length;  // RFC 8684 3.3.3: the DATA_FIN's octet counts in the length
      if (conn_->checksums()) {
        w.checksum = 0;
        for (const auto& c : conn_->tx_checksums[id_]) {
          if (c.ssn == m->ssn) w.checksum = c.csum;
        }
      }
      d.mapping = w;
    }
  } else if (auto it = conn_->pending_data_fin.find(id_); it != conn_->pending_data_fin.end()) {
    DssMapping w = it->second;
    w.ssn = 0;  // RFC 8684 3.3.3: a DATA_FIN on a segment without data: SSN 0, length 1
    w.length = 1;
    if (conn_->checksums()) w.checksum = DssChecksum(w.dsn, w.ssn, w.length, {});
    d.mapping = w;
    conn_->pending_data_fin.erase(it);
  }
  if (out.Append(d, &seg) == wire::WireError::kOk) conn_->data_ack_sent = d.data_ack->ack;
  // A signal on a segment without payload (never beside a mapping: it would not fit).
  if (seg.payload.empty() && !d.mapping && !seg.has(kTcpSyn)) {
    auto it = conn_->signals_out.find(id_);
    if (it != conn_->signals_out.end() && !it->second.empty()) {
      // Dropped too when it does not fit (a SACK block took the room): signals are best effort,
      // ADD_ADDR is repeated until echoed.
      out.Append(it->second.front(), &seg);
      it->second.pop_front();
    }
  }
}

bool DssSubflow::In(const TcpRepr& seg, const ReceivedOptions& opts) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr) return true;
  if (opts.has(kOptAddAddr)) conn_->signals_in.push_back({id_, opts.add_addr});
  if (opts.has(kOptRemoveAddr)) conn_->signals_in.push_back({id_, opts.remove_addr});
  if (opts.has(kOptMpPrio)) conn_->signals_in.push_back({id_, opts.prio});
  if (!opts.has(kOptDss)) return true;
  const Dss& d = opts.dss;
  if (d.mapping) {
    DssMapping m = *d.mapping;
    if (!d.dsn64) m.dsn = msk->ExpandIncomingDsn(static_cast<std::uint32_t>(m.dsn));
    if (m.data_fin && m.length > 0) --m.length;  // the wire length counts the DATA_FIN
    if (m.data_fin && m.length == 0) m.ssn = 0;
    if (MappingStatusIsError(msk->OnMapping(id_, m))) return false;
  }
  if (d.data_ack && seg.has(kTcpAck)) {
    const std::uint64_t ack =
        d.ack64 ? d.data_ack->ack : msk->ExpandIncomingDataAck(static_cast<std::uint32_t>(d.data_ack->ack));
    msk->OnDataAck(id_, DataAck{ack}, static_cast<std::uint32_t>(seg.window) << snd_wscale_);
  }
  return true;
}

// ---- DssHook

DssHook::DssHook(SubflowContext& ctx, Role role, std::uint64_t owner, std::shared_ptr<MptcpConnState> conn)
    : SubflowHook(ctx, role, owner), dss_(std::move(conn), kInitialSubflow) {}

bool DssHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) dss_.OnSynIn(seg);
  return SubflowHook::OnSegmentIn(seg, state);
}

void DssHook::OnSegmentOut(TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) dss_.OnSynOut(seg);
  SubflowHook::OnSegmentOut(seg, state);
}

std::uint32_t DssHook::PayloadLimit(std::uint32_t seq) const {
  return is_mptcp() ? dss_.PayloadLimit(seq) : UINT32_MAX;
}

std::uint32_t DssHook::AckOptionSpace() const {
  // The client's MP_CAPABLE third ACK (pending) needs its own room; established, only DSS.
  return state() == State::kEstablished ? dss_.AckSpace() : ReservedOptionSpace();
}

void DssHook::OnMptcpEstablished() {
  MptcpConnState& c = *dss_.conn();
  if (c.msk) return;
  MskConfig cfg = c.msk_config;
  cfg.checksums = checksum();
  c.local_key = local_key();
  c.remote_key = remote_key();
  c.msk_config.checksums = cfg.checksums;
  c.msk = std::make_unique<Msk>(cfg, local_key()->idsn, remote_key()->idsn);
  SubflowParams p;
  p.established = true;
  c.msk->AddSubflow(kInitialSubflow, p);
  c.data_ack_sent = c.msk->data_ack().ack;
}

void DssHook::OnFallback() { dss_.conn()->fallback = true; }

void DssHook::OnDataSegmentOut(TcpRepr& seg, OptionBuffer& out) { dss_.Out(seg, out); }

bool DssHook::OnDataSegmentIn(const TcpRepr& seg, const ReceivedOptions& opts) {
  Msk* msk = dss_.conn()->msk.get();
  if (msk == nullptr) return true;
  // RFC 8684 3.1: the client's first data may ride with its MP_CAPABLE ACK; the mapping is implicit.
  if (opts.has(kOptMpcAck) && opts.mpc.data_len && *opts.mpc.data_len > 0) {
    DssMapping m;
    m.dsn = remote_key()->idsn + 1;
    m.ssn = 1;
    m.length = *opts.mpc.data_len;
    m.checksum = opts.mpc.checksum;
    if (MappingStatusIsError(msk->OnMapping(kInitialSubflow, m))) return false;
  }
  return dss_.In(seg, opts);
}

DssSubflow* DssOf(TcpOptionHook* hook) {
  if (auto* h = dynamic_cast<DssHook*>(hook)) return &h->dss();
  if (auto* h = dynamic_cast<JoinHook*>(hook)) return h->dss();
  return nullptr;
}

}  // namespace braid::ustack::mptcp
