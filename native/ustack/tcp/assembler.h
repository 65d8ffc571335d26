// Out-of-order bookkeeping for the receive side: which byte ranges past RCV.NXT have arrived. Offsets
// are relative to RCV.NXT; the data itself sits in the RingBuffer at the same offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::ustack {

class Assembler {
 public:
  struct Range {
    std::uint32_t begin = 0;  // offset from RCV.NXT
    std::uint32_t end = 0;    // one past
  };

  // Too many disjoint ranges is a resource attack; beyond this we drop new holes.
  static constexpr std::size_t kMaxRanges = 32;

  // Records [offset, offset+len). False (and nothing recorded) when it would need a new range and
  // kMaxRanges are in use.
  bool Add(std::uint32_t offset, std::uint32_t len);
  // Bytes contiguous from offset 0, removed from the assembler (all ranges shift down by that much).
  std::uint32_t PopFront();
  bool empty() const { return ranges_.empty(); }
  void Clear() { ranges_.clear(); last_ = 0; }
  // Ranges in offset order.
  const std::vector<Range>& ranges() const { return ranges_; }
  // Index in ranges() of the range holding the most recently added bytes (RFC 2018: report it first).
  std::size_t last_index() const { return last_; }

 private:
  std::vector<Range> ranges_;
  std::size_t last_ = 0;
};

}  // namespace braid::ustack
