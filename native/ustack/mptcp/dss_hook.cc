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
  if (conn_->fallback) return 0;
  const bool fin = conn_->pending_data_fin.count(id_) != 0;
  const std::uint32_t fail = conn_->mp_fail_owed.count(id_) != 0 ? kLenMpFail : 0;
  if (fin) return Align4(kDssSpace + fail);  // a signal waits for the next ACK
  const Option* sig = NextSignal();
  if (sig == nullptr || fail != 0) return kLenDssBase + kLenDssAck64 + fail;  // a signal waits for MP_FAIL
  if (SignalAlone()) return Align4(static_cast<std::uint32_t>(OptionLen(*sig)));
  return Align4(kLenDssBase + kLenDssAck64 + static_cast<std::uint32_t>(OptionLen(*sig)));
}

void DssSubflow::Out(TcpRepr& seg, OptionBuffer& out) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr || conn_->fallback) return;
  const bool fail_owed = conn_->mp_fail_owed.count(id_) != 0;
  const bool bare = seg.payload.empty() && !seg.has(kTcpSyn) && conn_->pending_data_fin.count(id_) == 0;
  if (bare && !fail_owed && SignalAlone()) {
    // Alone on this ACK; dropped if it cannot go at all, or it would be asked for forever.
    out.Append(*NextSignal(), &seg);
    conn_->signals_out[id_].pop_front();
    return;
  }
  Dss d;
  d.data_ack = msk->data_ack();
  d.ack64 = true;
  d.dsn64 = true;
  bool infinite = false;
  if (!seg.payload.empty()) {
    const std::uint32_t ssn = seg.seq - iss_;
    if (const DssMapping* m = msk->MappingForSegment(id_, ssn)) {
      // (Only once our MP_FAIL answer went out: after the infinite mapping no option goes any more.)
      if (conn_->infinite_map_owed && conn_->fallback_allowed(id_) && conn_->mp_fail_owed.count(id_) == 0) {
        // RFC 8684 3.7: after the peer's MP_FAIL our next data carries the infinite mapping (length
        // 0, checksum 0) and the connection is plain TCP from its first byte on. Its DSN and SSN are
        // this segment's, as Linux's mptcp_update_infinite_map.
        DssMapping w;
        w.dsn = m->dsn + (ssn - m->ssn);
        w.ssn = ssn;
        w.length = 0;
        if (conn_->checksums()) w.checksum = 0;
        d.mapping = w;
        infinite = true;
      } else {
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
    }
  } else if (auto it = conn_->pending_data_fin.find(id_); it != conn_->pending_data_fin.end()) {
    DssMapping w = it->second;
    w.ssn = 0;  // RFC 8684 3.3.3: a DATA_FIN on a segment without data: SSN 0, length 1
    w.length = 1;
    if (conn_->checksums()) w.checksum = DssChecksum(w.dsn, w.ssn, w.length, {});
    d.mapping = w;
    conn_->pending_data_fin.erase(it);
  }
  if (out.Append(d, &seg) == wire::WireError::kOk) {
    conn_->data_ack_sent = d.data_ack->ack;
    if (infinite) {
      conn_->infinite_map_owed = false;
      conn_->fallback = true;
      conn_->Count(IntegrityCounter::kInfiniteMapTx);
    }
  }
  // MP_FAIL rides where it fits (Linux appends it after the DSS when there is room); the pure ACK
  // asked for it has room reserved (AckSpace). A signal waits for it.
  if (fail_owed) {
    auto f = conn_->mp_fail_owed.find(id_);
    if (out.Append(MpFail{f->second}, &seg) == wire::WireError::kOk) {
      conn_->Count(IntegrityCounter::kMpFailTx);
      conn_->mp_fail_owed.erase(f);
    }
    return;
  }
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

bool DssSubflow::FastcloseIn(const ReceivedOptions& opts) {
  // RFC 8684 3.5: the option proves the sender knows our key; a wrong one is ignored.
  if (!conn_->local_key || opts.fastclose.receiver_key != conn_->local_key->key) {
    conn_->Count(IntegrityCounter::kMpFastcloseBadKey);
    return false;
  }
  if (!conn_->fastclosed) conn_->Count(IntegrityCounter::kMpFastcloseRx);
  conn_->fastclosed = true;
  return true;
}

bool DssSubflow::In(const TcpRepr& seg, const ReceivedOptions& opts) {
  Msk* msk = conn_->msk.get();
  if (msk == nullptr || conn_->fallback) return true;
  // RFC 8684 3.5: MP_FASTCLOSE on an ACK: answer with a RST (the subflow refuses) and reset the rest.
  if (opts.has(kOptMpFastclose) && FastcloseIn(opts)) return false;
  if (opts.has(kOptAddAddr)) conn_->signals_in.push_back({id_, opts.add_addr});
  if (opts.has(kOptRemoveAddr)) conn_->signals_in.push_back({id_, opts.remove_addr});
  if (opts.has(kOptMpPrio)) conn_->signals_in.push_back({id_, opts.prio});
  if (opts.has(kOptMpFail)) {
    conn_->Count(IntegrityCounter::kMpFailRx);
    if (!conn_->fallback_allowed(id_)) {
      // Several subflows: the peer resets the failing one itself (Linux ignores it likewise).
      conn_->Count(IntegrityCounter::kMpFailIgnored);
    } else if (!conn_->mp_fail_sent) {
      // RFC 8684 3.7 (Linux mptcp_pm_mp_fail_received): answer with MP_FAIL, then the infinite
      // mapping on our next data. Our answer names the peer's data we reached.
      conn_->mp_fail_owed[id_] = msk->data_ack().ack;
      conn_->infinite_map_owed = true;
      conn_->ack_owed.insert(id_);
    }
    // else: the peer answered our MP_FAIL; its infinite mapping follows.
  }
  if (!opts.has(kOptDss)) return true;
  const Dss& d = opts.dss;
  bool infinite = false;
  if (d.mapping) {
    DssMapping m = *d.mapping;
    if (!d.dsn64) m.dsn = msk->ExpandIncomingDsn(static_cast<std::uint32_t>(m.dsn));
    if (m.data_fin && m.length > 0) --m.length;  // the wire length counts the DATA_FIN
    if (m.data_fin && m.length == 0) m.ssn = 0;
    mapping_seen_ = true;
    if (m.length == 0 && !m.data_fin) {
      // RFC 8684 3.7: the infinite mapping: the peer is plain TCP from this segment on. As Linux,
      // the data continues where ours stands (the subflow's bytes follow the ones already mapped).
      conn_->Count(IntegrityCounter::kInfiniteMapRx);
      if (!conn_->fallback_allowed(id_)) {
        conn_->Count(IntegrityCounter::kInfiniteMapRefused);
        conn_->rst_reason[id_] = kRstMptcpError;
        return false;
      }
      infinite = true;
    } else if (MappingStatusIsError(msk->OnMapping(id_, m))) {
      conn_->rst_reason[id_] = kRstMptcpError;
      return false;
    }
  }
  if (d.data_ack && seg.has(kTcpAck)) {
    const std::uint64_t ack =
        d.ack64 ? d.data_ack->ack : msk->ExpandIncomingDataAck(static_cast<std::uint32_t>(d.data_ack->ack));
    msk->OnDataAck(id_, DataAck{ack}, static_cast<std::uint32_t>(seg.window) << snd_wscale_);
  }
  if (infinite) conn_->fallback = true;
  return true;
}

void DssSubflow::ResetOut(TcpRepr& rst, OptionBuffer& out) {
  out.Clear();
  if (conn_->msk == nullptr || conn_->fallback) return;
  if (conn_->fastclose && conn_->remote_key) {
    if (out.Append(MpFastclose{conn_->remote_key->key}, &rst) == wire::WireError::kOk) {
      conn_->Count(IntegrityCounter::kMpFastcloseTx);
    }
  } else if (auto f = conn_->mp_fail_owed.find(id_); f != conn_->mp_fail_owed.end()) {
    if (out.Append(MpFail{f->second}, &rst) == wire::WireError::kOk) conn_->Count(IntegrityCounter::kMpFailTx);
    conn_->mp_fail_owed.erase(f);
  }
  MpTcprst r;
  if (auto it = conn_->rst_reason.find(id_); it != conn_->rst_reason.end()) r.reason = it->second;
  if (out.Append(r, &rst) == wire::WireError::kOk) conn_->Count(IntegrityCounter::kMpTcpRstTx);
}

void DssSubflow::ResetIn(const TcpRepr& rst) {
  if (conn_->fallback) return;
  ReceivedOptions opts;
  ParseOptions(rst, &opts);
  if (opts.has(kOptMpTcprst)) {
    conn_->Count(IntegrityCounter::kMpTcpRstRx);
    if (conn_->counters != nullptr) ++conn_->counters->rst_reason_rx[opts.tcprst.reason & 0x0f];
    conn_->peer_rst_reason = opts.tcprst.reason;
  }
  if (opts.has(kOptMpFail)) conn_->Count(IntegrityCounter::kMpFailRx);
  if (opts.has(kOptMpFastclose)) FastcloseIn(opts);
}

// ---- DssHook

DssHook::DssHook(SubflowContext& ctx, Role role, std::uint64_t owner, std::shared_ptr<MptcpConnState> conn)
    : SubflowHook(ctx, role, owner), dss_(std::move(conn), kInitialSubflow) {}

bool DssHook::SyncFallback() {
  if (!dss_.conn()->fallback || !is_mptcp()) return false;
  FallBackEstablished();
  return true;
}

bool DssHook::OnSegmentIn(const TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) dss_.OnSynIn(seg);
  SyncFallback();
  const bool ok = SubflowHook::OnSegmentIn(seg, state);
  SyncFallback();  // an infinite mapping on this very segment
  return ok;
}

void DssHook::OnSegmentOut(TcpRepr& seg, TcpState state) {
  if (seg.has(kTcpSyn)) dss_.OnSynOut(seg);
  SyncFallback();
  SubflowHook::OnSegmentOut(seg, state);
}

std::uint32_t DssHook::PayloadLimit(std::uint32_t seq) const {
  return is_mptcp() ? dss_.PayloadLimit(seq) : UINT32_MAX;
}

std::uint32_t DssHook::ReservedOptionSpace() const {
  return dss_.conn()->fallback ? 0 : SubflowHook::ReservedOptionSpace();
}

std::uint32_t DssHook::AckOptionSpace() const {
  if (dss_.conn()->fallback) return 0;
  // The client's MP_CAPABLE third ACK (pending) needs its own room; established, only DSS.
  return state() == State::kEstablished ? dss_.AckSpace() : ReservedOptionSpace();
}

void DssHook::OnResetOut(TcpRepr& rst) {
  if (is_mptcp()) dss_.ResetOut(rst, rst_out_);
}

void DssHook::OnResetIn(const TcpRepr& rst) {
  if (is_mptcp()) dss_.ResetIn(rst);
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

void DssHook::ImplicitMapping(const TcpRepr& seg, MpCapable& m) {
  MptcpConnState& c = *dss_.conn();
  const DssMapping* first = c.msk ? c.msk->MappingForSegment(kInitialSubflow, 1) : nullptr;
  if (first == nullptr || first->ssn != 1 || first->dsn != local_key()->idsn + 1 || first->data_fin) {
    SubflowHook::ImplicitMapping(seg, m);
    return;
  }
  m.data_len = first->length;
  if (c.checksums()) {
    m.checksum = 0;
    for (const auto& t : c.tx_checksums[kInitialSubflow]) {
      if (t.ssn == 1) m.checksum = t.csum;
    }
  }
}

void DssHook::OnDataSegmentOut(TcpRepr& seg, OptionBuffer& out) { dss_.Out(seg, out); }

bool DssHook::OnDataSegmentIn(const TcpRepr& seg, const ReceivedOptions& opts) {
  MptcpConnState& c = *dss_.conn();
  Msk* msk = c.msk.get();
  if (msk == nullptr || c.fallback) return true;
  // RFC 8684 3.1: the client's first data may ride with its MP_CAPABLE ACK; the mapping is implicit.
  const bool mpc_data = opts.has(kOptMpcAck) && opts.mpc.data_len && *opts.mpc.data_len > 0;
  // RFC 8684 3.7: data without a mapping before any mapping arrived on the only subflow: something
  // on the path strips the options. The connection falls back to TCP (Linux: DSSFallback).
  if (!seg.payload.empty() && !mpc_data && !dss_.mapping_seen() && !(opts.has(kOptDss) && opts.dss.mapping) &&
      c.fallback_allowed(kInitialSubflow)) {
    c.Count(IntegrityCounter::kDssFallback);
    c.fallback = true;
    FallBackEstablished();
    return true;
  }
  // RFC 8684 3.7 (Linux MPCapableDataFallback): the peer acknowledges our data with a plain TCP
  // segment before acknowledging any of it at the data level: it fell back (e.g. our first mapping
  // failed its checksum there, or the path strips options on our data).
  if (opts.present == 0 && seg.has(kTcpAck) && SeqGt(seg.ack, dss_.iss() + 1) && c.local_key &&
      msk->snd_una() == c.local_key->idsn + 1 && c.fallback_allowed(kInitialSubflow)) {
    c.Count(IntegrityCounter::kDssFallback);
    c.fallback = true;
    FallBackEstablished();
    return true;
  }
  if (mpc_data) {
    dss_.set_mapping_seen();
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
