#include "ustack/tcp/sack_scoreboard.h"

#include "ustack/tcp/seq.h"

namespace braid::ustack {

void SackScoreboard::Add(std::uint32_t left, std::uint32_t right, std::uint32_t snd_una, std::uint32_t snd_max) {
  if (!SeqLt(left, right)) return;
  left = SeqMax(left, snd_una);
  right = SeqMin(right, snd_max);
  if (!SeqLt(left, right)) return;
  std::vector<Range> out;
  out.reserve(ranges_.size() + 1);
  bool placed = false;
  for (const Range& r : ranges_) {
    if (SeqLt(r.right, left)) {
      out.push_back(r);
    } else if (SeqLt(right, r.left)) {
      if (!placed) out.push_back(Range{left, right});
      placed = true;
      out.push_back(r);
    } else {  // overlapping or touching: absorb into the new block
      left = SeqMin(left, r.left);
      right = SeqMax(right, r.right);
    }
  }
  if (!placed) out.push_back(Range{left, right});
  ranges_ = std::move(out);
}

void SackScoreboard::Prune(std::uint32_t snd_una) {
  std::size_t keep = 0;
  for (Range r : ranges_) {
    if (SeqLe(r.right, snd_una)) continue;
    r.left = SeqMax(r.left, snd_una);
    ranges_[keep++] = r;
  }
  ranges_.resize(keep);
}

std::uint32_t SackScoreboard::SackedBytes() const {
  std::uint32_t n = 0;
  for (const Range& r : ranges_) n += r.right - r.left;
  return n;
}

bool SackScoreboard::IsLost(std::uint32_t seq, std::uint32_t threshold) const {
  std::uint32_t above = 0;
  for (const Range& r : ranges_) {
    if (SeqGe(r.left, seq)) {
      above += r.right - r.left;
    } else if (SeqGt(r.right, seq)) {
      above += r.right - seq;
    }
  }
  return above > threshold;
}

std::uint32_t SackScoreboard::LostBoundary(std::uint32_t snd_una, std::uint32_t threshold) const {
  // Holes only lie between ranges; a hole below range i is lost when ranges i.. hold > threshold.
  std::uint32_t suffix = 0;
  for (std::size_t i = ranges_.size(); i-- > 0;) {
    suffix += ranges_[i].right - ranges_[i].left;
    if (suffix > threshold) return ranges_[i].left;
  }
  return snd_una;
}

std::optional<SackScoreboard::Range> SackScoreboard::NextHole(std::uint32_t from, std::uint32_t limit) const {
  std::uint32_t cur = from;
  for (const Range& r : ranges_) {
    if (!SeqLt(cur, limit)) return std::nullopt;
    if (SeqLe(r.right, cur)) continue;
    if (SeqLt(cur, r.left)) return Range{cur, SeqMin(r.left, limit)};
    cur = r.right;  // cur lies inside r: skip past it
  }
  if (SeqLt(cur, limit)) return Range{cur, limit};
  return std::nullopt;
}

std::uint32_t SackScoreboard::UnsackedBytes(std::uint32_t from, std::uint32_t to) const {
  if (!SeqLt(from, to)) return 0;
  std::uint32_t n = to - from;
  for (const Range& r : ranges_) {
    std::uint32_t a = SeqMax(r.left, from);
    std::uint32_t b = SeqMin(r.right, to);
    if (SeqLt(a, b)) n -= b - a;
  }
  return n;
}

}  // namespace braid::ustack
