#include "ustack/mptcp/reassembly.h"

#include <algorithm>
#include <limits>

#include "ustack/mptcp/dsn.h"

namespace braid::ustack::mptcp {

Reassembly::Reassembly(std::size_t capacity, std::uint64_t rcv_nxt)
    : ring_(std::min<std::size_t>(capacity, std::numeric_limits<std::int32_t>::max())), rcv_nxt_(rcv_nxt) {}

std::uint32_t Reassembly::window() const {
  if (fin_reached_) return 0;
  return static_cast<std::uint32_t>(ring_.window());
}

std::uint32_t Reassembly::HeldBytes() const {
  std::uint32_t n = 0;
  for (const auto& r : ooo_.ranges()) n += r.end - r.begin;
  return n;
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
  const std::uint32_t before = HeldBytes();
  if (!ooo_.Add(offset, len)) {
    p.no_room += len;
    return p;
  }
  ring_.WriteUnallocated(offset, data.first(len));
  const std::uint32_t fresh = HeldBytes() - before;
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
  const std::uint32_t n = ooo_.PopFront();
  if (n > 0) {
    ring_.EnqueueUnallocated(n);
    rcv_nxt_ += n;
  }
  if (data_fin_ && !fin_reached_ && rcv_nxt_ == *data_fin_) {
    fin_reached_ = true;
    rcv_nxt_ += 1;  // the DATA_FIN takes one octet of data sequence space
  }
}

}  // namespace braid::ustack::mptcp
