// The sender's SACK scoreboard (RFC 6675 section 3): which sequence ranges above SND.UNA the peer
// reported holding. Ranges are absolute sequence numbers, merged and kept in sequence order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace braid::ustack {

class SackScoreboard {
 public:
  struct Range {
    std::uint32_t left = 0;
    std::uint32_t right = 0;  // one past
  };

  // Records one SACK block, clipped to (snd_una, snd_max]; blocks outside (D-SACK, RFC 2883, or
  // garbage) are ignored.
  void Add(std::uint32_t left, std::uint32_t right, std::uint32_t snd_una, std::uint32_t snd_max);
  // Forgets everything below the new cumulative ACK.
  void Prune(std::uint32_t snd_una);
  void Clear() { ranges_.clear(); }
  bool empty() const { return ranges_.empty(); }
  const std::vector<Range>& ranges() const { return ranges_; }

  std::uint32_t SackedBytes() const;
  // RFC 6675 IsLost(): more than `threshold` bytes SACKed above `seq`.
  bool IsLost(std::uint32_t seq, std::uint32_t threshold) const;
  // Every un-SACKed byte below the returned sequence number is lost by IsLost(); `snd_una` if none.
  std::uint32_t LostBoundary(std::uint32_t snd_una, std::uint32_t threshold) const;
  // The first un-SACKed range [from, limit) intersects, as [left, right).
  std::optional<Range> NextHole(std::uint32_t from, std::uint32_t limit) const;
  // Un-SACKed bytes of [from, to).
  std::uint32_t UnsackedBytes(std::uint32_t from, std::uint32_t to) const;

 private:
  std::vector<Range> ranges_;
};

}  // namespace braid::ustack
