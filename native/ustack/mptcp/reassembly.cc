#include "ustack/mptcp/reassembly.h"

#include <algorithm>
#include <limits>

#include "ustack/mptcp/dsn.h"

namespace braid::ustack::mptcp {

Reassembly::Reassembly(std::size_t capacity, std::uint64_t rcv_nxt)
    : ring_(std::min<std::size_t>(capacity, std::numeric_limits<std::int32_t>::max())), base_(rcv_nxt), rcv_nxt_(rcv_nxt) {}

std::uint32_t Reassembly::window() const {
  if (fin_reached_) return 0;
  return static_cast<std::uint32_t>(ring_.window());
}

std::optional<std::uint64_t> Reassembly::AddRange(std::uint64_t begin, std::uint64_t end) {
  auto it = ooo_.upper_bound(begin);
  if (it != ooo_.begin() && std::prev(it)->second >= begin) --it;  // touches or covers begin
  std::uint64_t covered = 0;
  std::uint64_t new_begin = begin;
  std::uint64_t new_end = end;
  auto first = it;
  while (it != ooo_.end() && it->first <= end) {
    covered += std::min(it->second, end) - std::max(it->first, begin);
    new_begin = std::min(new_begin, it->first);
    new_end = std::max(new_end, it->second);
    ++it;
  }
  if (first == it && ooo_.size() >= kMaxRanges) return std::nullopt;
  ooo_.erase(first, it);
  ooo_.emplace(new_begin, new_end);
  return (end - begin) - covered;
}

Reassembly::Placed Reassembly::Insert(std::uint64_t dsn, std::span<const std::uint8_t> data) {
  Placed p;
  auto len = static_cast<std::uint32_t>(data.size());
  if (len == 0) return p;
  // Bytes below the DATA_ACK were delivered already (reinjection, repeated mapping).
  if (DsnLt(dsn, rcv_nxt_)) {
    const std::uint64_t old = rcv_nxt_ - dsn;
    const auto skip = static_cast<std::uint32_t>(std::min<std::uint64_t>(old, len));
    p.duplicate += skip;
    data = data.subspan(skip);
    dsn += skip;
    len -= skip;
    if (len == 0) return p;
  }
  // Clip at the right edge, and at the DATA_FIN: nothing may follow it.
  std::uint64_t limit = right_edge();
  if (data_fin_) limit = DsnMin(limit, *data_fin_);
  if (DsnGe(dsn, limit)) {
    p.beyond += len;
    return p;
  }
  const auto keep = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit - dsn, len));
  p.beyond += len - keep;
  len = keep;
  const auto offset = static_cast<std::uint32_t>(dsn - rcv_nxt_);
  const auto added = AddRange(dsn - base_, dsn - base_ + len);
  if (!added) {
    p.no_room += len;
    return p;
  }
  ring_.WriteUnallocated(offset, data.first(len));
  const auto fresh = static_cast<std::uint32_t>(*added);
  p.fresh += fresh;
  p.duplicate += len - fresh;
  const std::uint64_t end = dsn + len;
  if (!any_ || DsnGt(end, highest_)) highest_ = end;
  any_ = true;
  Promote();
  return p;
}

bool Reassembly::SetDataFin(std::uint64_t dsn) {
  if (data_fin_) return *data_fin_ == dsn;
  // RFC 8684 3.3.3: the DATA_FIN is the last octet of the stream; data already past it, or in-order
  // data already beyond it, contradicts it.
  if (DsnLt(dsn, rcv_nxt_)) return false;
  if (any_ && DsnGt(highest_, dsn)) return false;
  data_fin_ = dsn;
  Promote();
  return true;
}

void Reassembly::Promote() {
  auto it = ooo_.begin();
  if (it != ooo_.end() && it->first == rcv_nxt_ - base_) {
    const std::uint64_t n = it->second - it->first;
    ooo_.erase(it);
    ring_.EnqueueUnallocated(static_cast<std::size_t>(n));
    rcv_nxt_ += n;
  }
  if (data_fin_ && !fin_reached_ && rcv_nxt_ == *data_fin_) {
    fin_reached_ = true;
    rcv_nxt_ += 1;  // the DATA_FIN takes one octet of data sequence space
  }
}

}  // namespace braid::ustack::mptcp
