#include "ustack/tcp/assembler.h"

#include <algorithm>

namespace braid::ustack {

bool Assembler::Add(std::uint32_t offset, std::uint32_t len) {
  if (len == 0) return true;
  std::uint32_t begin = offset;
  std::uint32_t end = offset + len;
  // First range that ends at or after `begin` (touching ranges merge).
  auto it = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.end >= begin; });
  if (it == ranges_.end() || it->begin > end) {
    if (ranges_.size() >= kMaxRanges) return false;
    it = ranges_.insert(it, Range{begin, end});
  } else {
    it->begin = std::min(it->begin, begin);
    it->end = std::max(it->end, end);
    auto next = it + 1;
    while (next != ranges_.end() && next->begin <= it->end) {
      it->end = std::max(it->end, next->end);
      next = ranges_.erase(next);
      it = next - 1;
    }
  }
  last_ = static_cast<std::size_t>(it - ranges_.begin());
  return true;
}

std::uint32_t Assembler::PopFront() {
  if (ranges_.empty() || ranges_.front().begin != 0) return 0;
  std::uint32_t n = ranges_.front().end;
  ranges_.erase(ranges_.begin());
  for (Range& r : ranges_) {
    r.begin -= n;
    r.end -= n;
  }
  last_ = last_ > 0 ? last_ - 1 : 0;
  return n;
}

}  // namespace braid::ustack
