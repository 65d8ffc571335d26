#include "ustack/mptcp/mapping_tracker.h"

#include <algorithm>

#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

const char* MappingStatusName(MappingStatus s) {
  switch (s) {
    case MappingStatus::kOk: return "Ok";
    case MappingStatus::kDuplicate: return "Duplicate";
    case MappingStatus::kStale: return "Stale";
    case MappingStatus::kDataFinOnly: return "DataFinOnly";
    case MappingStatus::kInfinite: return "Infinite";
    case MappingStatus::kMismatch: return "Mismatch";
    case MappingStatus::kChecksumMismatch: return "ChecksumMismatch";
    case MappingStatus::kTooMany: return "TooMany";
  }
  return "?";
}

namespace {
std::uint32_t End(const DssMapping& m) { return m.ssn + m.length; }
bool Overlap(const DssMapping& a, const DssMapping& b) {
  return SeqLt(a.ssn, End(b)) && SeqLt(b.ssn, End(a));
}
}  // namespace

// Two overlapping mappings agree when the subflow offset between them equals the DSN offset.
bool MappingTracker::Consistent(const DssMapping& a, const DssMapping& b) const {
  const auto ssn_delta = static_cast<std::int64_t>(static_cast<std::int32_t>(b.ssn - a.ssn));
  return b.dsn - a.dsn == static_cast<std::uint64_t>(ssn_delta);
}

MappingStatus MappingTracker::Add(const DssMapping& m) {
  // RFC 8684 3.3.0: with checksums negotiated every DSS mapping carries one, else none does.
  if (m.checksum.has_value() != checksums_) return MappingStatus::kChecksumMismatch;
  if (m.length == 0) return m.data_fin ? MappingStatus::kDataFinOnly : MappingStatus::kInfinite;
  for (const DssMapping& h : held_) {
    if (h.dsn == m.dsn && h.ssn == m.ssn && h.length == m.length) return MappingStatus::kDuplicate;
  }
  for (const DssMapping& h : held_) {
    if (Overlap(h, m) && !Consistent(h, m)) return MappingStatus::kMismatch;
  }
  if (last_retired_ && Overlap(*last_retired_, m) && !Consistent(*last_retired_, m)) {
    return MappingStatus::kMismatch;
  }
  if (SeqLe(End(m), next_ssn_)) return MappingStatus::kStale;
  if (held_.size() >= kMaxMappings) return MappingStatus::kTooMany;
  held_.push_back(m);
  return MappingStatus::kOk;
}

const DssMapping* MappingTracker::FrontMapping() const {
  const DssMapping* best = nullptr;
  for (const DssMapping& h : held_) {
    if (!SeqInRange(next_ssn_, h.ssn, End(h))) continue;
    if (best == nullptr || SeqGt(End(h), End(*best))) best = &h;
  }
  return best;
}

std::optional<MappedRun> MappingTracker::Front(std::uint32_t available) const {
  const DssMapping* best = FrontMapping();
  if (best == nullptr || available == 0) return std::nullopt;
  const std::uint32_t offset = next_ssn_ - best->ssn;
  return MappedRun{best->dsn + offset, std::min(available, End(*best) - next_ssn_)};
}

void MappingTracker::Advance(std::uint32_t n) {
  next_ssn_ += n;
  for (auto it = held_.begin(); it != held_.end();) {
    if (SeqLe(End(*it), next_ssn_)) {
      last_retired_ = *it;
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace braid::ustack::mptcp
