#include "ustack/mptcp/dsn.h"

#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

std::uint64_t ExpandSeq(std::uint64_t reference, std::uint32_t low32) {
  const auto ref32 = static_cast<std::uint32_t>(reference);
  const std::uint64_t same_epoch = (reference & 0xffffffff00000000ull) | low32;
  // Numerically below the reference but after it in serial order: the low half wrapped forward.
  if (low32 < ref32 && SeqGt(low32, ref32)) return same_epoch + (1ull << 32);
  // Numerically above but serially before: an old value from the previous epoch.
  if (low32 > ref32 && SeqLt(low32, ref32)) return same_epoch - (1ull << 32);
  return same_epoch;
}

}  // namespace braid::ustack::mptcp
