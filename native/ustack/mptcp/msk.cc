#include "ustack/mptcp/msk.h"

#include <algorithm>
#include <limits>

#include "ustack/mptcp/dsn.h"
#include "ustack/mptcp/dss_checksum.h"
#include "ustack/tcp/seq.h"
#include "ustack/wire/checksum.h"

namespace braid::ustack::mptcp {

Msk::Msk(const MskConfig& cfg, std::uint64_t local_idsn, std::uint64_t remote_idsn)
    : cfg_(cfg),
      sched_(MakeScheduler(cfg.scheduler)),
      rx_(cfg.recv_buffer, remote_idsn + 1),
      buf_dsn_(local_idsn + 1),
      snd_una_(local_idsn + 1),
      snd_nxt_(local_idsn + 1),
      wnd_end_(local_idsn + 1 + cfg.initial_peer_window) {
  if (cfg_.max_mapping == 0) cfg_.max_mapping = 1;
}

// ---- subflows

void Msk::AddSubflow(SubflowId id, const SubflowParams& params, std::uint32_t tx_ssn, std::uint32_t rx_ssn) {
  Subflow sf{.params = params, .rx = MappingTracker(rx_ssn, cfg_.checksums), .tx_next_ssn = tx_ssn, .tx_una_ssn = tx_ssn};
  subflows_.insert_or_assign(id, std::move(sf));
}

void Msk::UpdateSubflow(SubflowId id, const SubflowParams& params) {
  auto it = subflows_.find(id);
  if (it != subflows_.end()) it->second.params = params;
}

void Msk::SubflowFailed(SubflowId id) {
  auto it = subflows_.find(id);
  if (it == subflows_.end() || it->second.failed) return;
  Subflow& sf = it->second;
  sf.failed = true;
  ++counters_.subflows_failed;
  // Everything it carried that the peer has not DATA_ACKed may be lost with it: assign it again.
  // Bytes that did get through are dropped as duplicates by the peer's reassembly.
  for (const DssMapping& m : sf.tx_maps) {
    const std::uint64_t end = m.dsn + m.length;
    if (DsnLe(end, snd_una_)) continue;
    const std::uint64_t begin = DsnMax(m.dsn, snd_una_);
    AddReinjection(begin, end - begin);
  }
  sf.tx_maps.clear();
  // A DATA_FIN it carried may be lost too: send it again at the next poll.
  if (fin_sent_) fin_sent_ = false;
}

void Msk::SubflowStale(SubflowId id) {
  auto it = subflows_.find(id);
  if (it == subflows_.end() || it->second.failed) return;
  for (const DssMapping& m : it->second.tx_maps) {
    const std::uint64_t end = m.dsn + m.length;
    if (DsnLe(end, snd_una_)) continue;
    const std::uint64_t begin = DsnMax(m.dsn, snd_una_);
    AddReinjection(begin, end - begin);
  }
  if (fin_sent_) fin_sent_ = false;  // its DATA_FIN may be stuck there too
}

void Msk::RemoveSubflow(SubflowId id) {
  SubflowFailed(id);
  subflows_.erase(id);
}

// ---- application

std::size_t Msk::send_free() const {
  const std::size_t queued = buf_.size() - head_;
  return queued >= cfg_.send_buffer ? 0 : cfg_.send_buffer - queued;
}

bool Msk::send_done() const {
  return fin_requested_ && DsnGt(snd_una_, fin_dsn_);
}

std::size_t Msk::Send(std::span<const std::uint8_t> data) {
  if (fin_requested_) return 0;
  const std::size_t n = std::min(data.size(), send_free());
  buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

void Msk::Shutdown() {
  if (fin_requested_) return;
  fin_requested_ = true;
  fin_dsn_ = buf_dsn_ + (buf_.size() - head_);
}

std::size_t Msk::Recv(std::span<std::uint8_t> out) { return rx_.Read(out); }

// ---- receive path

std::uint64_t Msk::ExpandIncomingDsn(std::uint32_t dsn32) const { return ExpandSeq(rx_.rcv_nxt(), dsn32); }

std::uint64_t Msk::ExpandIncomingDataAck(std::uint32_t ack32) const { return ExpandSeq(snd_una_, ack32); }

MappingStatus Msk::OnMapping(SubflowId id, const DssMapping& m) {
  auto it = subflows_.find(id);
  if (it == subflows_.end()) {
    ++counters_.mappings_ignored;
    return MappingStatus::kStale;
  }
  const MappingStatus st = it->second.rx.Add(m);
  if (MappingStatusIsError(st)) {
    ++counters_.mappings_rejected;
    return st;
  }
  if (st == MappingStatus::kDuplicate || st == MappingStatus::kStale) ++counters_.mappings_ignored;
  // RFC 8684 3.3.3: the DATA_FIN takes the octet after the mapping's data.
  if (m.data_fin && !rx_.SetDataFin(m.dsn + m.length)) ++counters_.data_fin_rejected;
  return st;
}

std::size_t Msk::OnSubflowData(SubflowId id, std::span<const std::uint8_t> in_order,
                               std::span<const std::uint8_t> more) {
  auto it = subflows_.find(id);
  if (it == subflows_.end()) return 0;
  Subflow& sf = it->second;
  MappingTracker& tracker = sf.rx;
  std::size_t taken = 0;
  while (taken < in_order.size()) {
    const auto avail = static_cast<std::uint32_t>(
        std::min<std::size_t>(in_order.size() - taken, std::numeric_limits<std::uint32_t>::max()));
    const auto run = tracker.Front(avail);
    if (!run) break;
    if (cfg_.checksums && !CheckFront(sf, in_order.subspan(taken), more)) break;
    const Reassembly::Placed p = rx_.Insert(run->dsn, in_order.subspan(taken, run->length));
    counters_.rx_fresh_bytes += p.fresh;
    counters_.rx_duplicate_bytes += p.duplicate;
    counters_.rx_beyond_window_bytes += p.beyond;
    counters_.rx_no_room_bytes += p.no_room;
    tracker.Advance(run->length);
    taken += run->length;
  }
  return taken;
}

bool Msk::CheckFront(Subflow& sf, std::span<const std::uint8_t> in_order, std::span<const std::uint8_t> more) {
  if (sf.csum_failure) return false;
  const DssMapping* m = sf.rx.FrontMapping();
  const std::uint32_t next = sf.rx.next_ssn();
  const std::uint32_t end = m->ssn + m->length;
  // Already checked (Front reads a mapping in several runs when the bytes come in pieces).
  if (sf.csum_checked_end && SeqLt(next, *sf.csum_checked_end) && SeqLe(end, *sf.csum_checked_end)) return true;
  if (m->ssn != next) {
    // Its first bytes were taken under another (consistent) mapping: the sum cannot be made.
    ++counters_.csum_unverifiable;
    sf.csum_checked_end = end;
    return true;
  }
  if (in_order.size() + more.size() < m->length) return false;  // the sum covers the whole mapping
  // The pseudo-header's length is the wire's, the DATA_FIN's octet counted (Linux validate_data_csum).
  const auto wire_len = static_cast<std::uint16_t>(m->length + (m->data_fin ? 1 : 0));
  const auto head = in_order.first(std::min<std::size_t>(in_order.size(), m->length));
  const auto tail = more.first(m->length - head.size());
  std::uint16_t sum = wire::Sum(head);
  if (!tail.empty()) {
    std::uint16_t t = wire::Sum(tail);
    // After an odd number of bytes the tail's words straddle: its sum is byte-swapped (RFC 1071 2(B)).
    if (head.size() % 2 != 0) t = static_cast<std::uint16_t>((t << 8) | (t >> 8));
    sum = wire::Combine(sum, t);
  }
  // Valid when the sum with the received checksum in place is all ones (either zero of ones'
  // complement is accepted, as DssChecksumValid does).
  const auto want = static_cast<std::uint16_t>(~DssChecksumFromSum(m->dsn, m->ssn, wire_len, sum));
  if (!m->checksum || wire::Combine(want, *m->checksum) != 0xffff) {
    ++counters_.data_csum_err;
    sf.csum_failure = m->dsn;
    return false;
  }
  sf.valid_csum_seen = true;
  sf.csum_checked_end = end;
  return true;
}

std::optional<std::uint64_t> Msk::checksum_failure(SubflowId id) const {
  auto it = subflows_.find(id);
  return it == subflows_.end() ? std::nullopt : it->second.csum_failure;
}

bool Msk::valid_checksum_seen(SubflowId id) const {
  auto it = subflows_.find(id);
  return it != subflows_.end() && it->second.valid_csum_seen;
}

void Msk::AcceptFailedMapping(SubflowId id) {
  auto it = subflows_.find(id);
  if (it == subflows_.end() || !it->second.csum_failure) return;
  Subflow& sf = it->second;
  sf.csum_failure.reset();
  if (const DssMapping* m = sf.rx.FrontMapping()) sf.csum_checked_end = m->ssn + m->length;
}

std::vector<std::uint8_t> Msk::TakeUnsent() {
  const std::uint64_t end = buf_dsn_ + (buf_.size() - head_);
  std::vector<std::uint8_t> out;
  if (DsnLt(snd_nxt_, end)) {
    const auto from = static_cast<std::ptrdiff_t>(head_ + (snd_nxt_ - buf_dsn_));
    out.assign(buf_.begin() + from, buf_.end());
  }
  buf_.clear();
  head_ = 0;
  buf_dsn_ = snd_nxt_ = snd_una_ = end;
  reinject_.clear();
  for (auto& [id, sf] : subflows_) sf.tx_maps.clear();
  return out;
}

void Msk::OnDataAck(SubflowId /*id*/, DataAck ack, std::uint32_t window) {
  std::uint64_t una = ack.ack;
  // Linux ack_update_msk: a DATA_ACK for data never sent moves nothing but may still carry a window.
  const std::uint64_t snd_max = fin_ever_sent_ ? fin_dsn_ + 1 : snd_nxt_;
  if (DsnGt(una, snd_max)) {
    ++counters_.data_ack_unsent;
    una = snd_una_;
  }
  // RFC 8684 3.3.5 (and Linux ack_update_msk): the right edge only ever moves right.
  const std::uint64_t edge = una + window;
  if (DsnGt(edge, wnd_end_)) wnd_end_ = edge;
  if (DsnGt(una, snd_una_)) {
    snd_una_ = una;
    FreeAcked();
  }
}

void Msk::FreeAcked() {
  const std::size_t queued = buf_.size() - head_;
  const auto drop = static_cast<std::size_t>(std::min<std::uint64_t>(snd_una_ - buf_dsn_, queued));
  head_ += drop;
  buf_dsn_ += drop;
  // Compact once the dead prefix outweighs the live data (amortised O(1) per byte).
  if (head_ > 65536 && head_ > buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  while (!reinject_.empty() && DsnLe(reinject_.front().dsn + reinject_.front().len, snd_una_)) reinject_.pop_front();
  for (auto& [id, sf] : subflows_) Prune(sf);
}

void Msk::Prune(Subflow& sf) {
  while (!sf.tx_maps.empty()) {
    const DssMapping& m = sf.tx_maps.front();
    if (!SeqLe(m.ssn + m.length, sf.tx_una_ssn) || !DsnLe(m.dsn + m.length, snd_una_)) break;
    sf.tx_maps.pop_front();
  }
}

// ---- send path

std::vector<SchedSubflow> Msk::Views(bool ignore_room) const {
  std::vector<SchedSubflow> v;
  v.reserve(subflows_.size());
  for (const auto& [id, sf] : subflows_) {
    const bool usable = sf.params.established && !sf.failed;
    v.push_back(SchedSubflow{.id = id,
                             .usable = usable,
                             .backup = sf.params.backup,
                             .srtt = sf.params.srtt,
                             .send_space = ignore_room ? 1u : sf.params.send_space});
  }
  return v;
}

std::span<const std::uint8_t> Msk::Bytes(std::uint64_t dsn, std::size_t len) const {
  const auto offset = static_cast<std::size_t>(dsn - buf_dsn_);
  return std::span<const std::uint8_t>(buf_.data() + head_ + offset, len);
}

void Msk::AddReinjection(std::uint64_t dsn, std::uint64_t len) {
  if (len == 0) return;
  reinject_.push_back(Range{dsn, len});
  std::sort(reinject_.begin(), reinject_.end(), [](const Range& a, const Range& b) { return DsnLt(a.dsn, b.dsn); });
  std::deque<Range> merged;
  for (const Range& r : reinject_) {
    if (!merged.empty() && DsnLe(r.dsn, merged.back().dsn + merged.back().len)) {
      const std::uint64_t end = DsnMax(merged.back().dsn + merged.back().len, r.dsn + r.len);
      merged.back().len = end - merged.back().dsn;
    } else {
      merged.push_back(r);
    }
  }
  reinject_ = std::move(merged);
}

Duration Msk::DataFinRto() const {
  Duration rto = cfg_.data_fin_rto;
  for (const auto& [id, sf] : subflows_) {
    if (!sf.failed && sf.params.established) rto = std::max(rto, Duration{2 * sf.params.srtt.micros});
  }
  return std::min(rto, cfg_.data_fin_rto_max);
}

void Msk::Assign(SubflowId id, std::uint64_t dsn, std::uint32_t len, bool reinjection, std::vector<Transmit>& out) {
  Subflow& sf = subflows_.at(id);
  DssMapping m;
  m.dsn = dsn;
  m.ssn = sf.tx_next_ssn;
  m.length = static_cast<std::uint16_t>(len);
  m.data_fin = fin_requested_ && dsn + len == fin_dsn_;
  sf.tx_next_ssn += len;
  sf.params.send_space -= std::min(sf.params.send_space, len);
  sf.tx_maps.push_back(m);
  counters_.tx_bytes += len;
  if (reinjection) counters_.tx_reinjected_bytes += len;
  if (m.data_fin && !fin_sent_) {
    fin_sent_ = true;
    fin_ever_sent_ = true;
    fin_backoff_ = DataFinRto();
    fin_deadline_ = now_ + fin_backoff_;
  }
  out.push_back(Transmit{.subflow = id, .mapping = m, .data = Bytes(dsn, len), .reinjection = reinjection});
}

std::vector<Transmit> Msk::PollTransmit(Instant now) {
  now_ = now;
  std::vector<Transmit> out;
  // Reinjections first (Linux __mptcp_retrans runs before new data): the peer waits on them.
  while (!reinject_.empty()) {
    Range& r = reinject_.front();
    if (DsnLt(r.dsn, snd_una_)) {
      const std::uint64_t cut = std::min(r.len, snd_una_ - r.dsn);
      r.dsn += cut;
      r.len -= cut;
    }
    if (r.len == 0) {
      reinject_.pop_front();
      continue;
    }
    const auto id = sched_->GetRetrans(Views(false));
    if (!id) break;
    const std::uint32_t space = subflows_.at(*id).params.send_space;
    if (space == 0) break;
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>({r.len, cfg_.max_mapping, space}));
    Assign(*id, r.dsn, len, true, out);
    r.dsn += len;
    r.len -= len;
    if (r.len == 0) reinject_.pop_front();
  }
  // New data, within what the peer's shared window allows.
  const std::uint64_t end = buf_dsn_ + (buf_.size() - head_);
  std::vector<SubflowId> ids;
  while (DsnLt(snd_nxt_, end) && DsnLt(snd_nxt_, wnd_end_)) {
    sched_->GetSend(Views(false), ids);
    if (ids.empty()) break;
    std::uint64_t len = std::min<std::uint64_t>({end - snd_nxt_, wnd_end_ - snd_nxt_, cfg_.max_mapping});
    for (SubflowId id : ids) len = std::min<std::uint64_t>(len, subflows_.at(id).params.send_space);
    if (len == 0) break;
    for (SubflowId id : ids) Assign(id, snd_nxt_, static_cast<std::uint32_t>(len), false, out);
    snd_nxt_ += len;
  }
  // A DATA_FIN alone: once every byte went out and none of them carried it, or to repeat it.
  if (fin_requested_ && snd_nxt_ == fin_dsn_ && !DsnGt(snd_una_, fin_dsn_) && (!fin_sent_ || now >= fin_deadline_)) {
    if (const auto id = sched_->GetRetrans(Views(true))) {
      if (fin_sent_) {
        ++counters_.tx_data_fin_repeats;
        fin_backoff_ = std::min(Duration{fin_backoff_.micros * 2}, cfg_.data_fin_rto_max);
      } else {
        fin_backoff_ = DataFinRto();
      }
      fin_sent_ = true;
      fin_ever_sent_ = true;
      fin_deadline_ = now + fin_backoff_;
      DssMapping m;
      m.dsn = fin_dsn_;
      m.ssn = 0;  // RFC 8684 3.3.3: a DATA_FIN alone has subflow sequence number 0
      m.length = 0;
      m.data_fin = true;
      out.push_back(Transmit{.subflow = *id, .mapping = m, .data = {}, .reinjection = false});
    }
  }
  return out;
}

Instant Msk::PollAt() const {
  if (fin_requested_ && fin_sent_ && !DsnGt(snd_una_, fin_dsn_)) return fin_deadline_;
  return Instant{std::numeric_limits<std::int64_t>::max()};
}

const DssMapping* Msk::MappingForSegment(SubflowId id, std::uint32_t ssn) const {
  auto it = subflows_.find(id);
  if (it == subflows_.end()) return nullptr;
  for (const DssMapping& m : it->second.tx_maps) {
    if (SeqInRange(ssn, m.ssn, m.ssn + m.length)) return &m;
  }
  return nullptr;
}

void Msk::OnSubflowAcked(SubflowId id, std::uint32_t snd_una_ssn) {
  auto it = subflows_.find(id);
  if (it == subflows_.end()) return;
  if (SeqGt(snd_una_ssn, it->second.tx_una_ssn)) it->second.tx_una_ssn = snd_una_ssn;
  Prune(it->second);
}

}  // namespace braid::ustack::mptcp
