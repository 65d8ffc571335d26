#include "ustack/wire/icmpv4.h"

#include <cstring>

#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"

namespace braid::ustack::wire {

WireError Icmpv4Repr::Parse(std::span<const std::uint8_t> m, ChecksumCheck check, Icmpv4Repr* out) {
  if (m.size() < kHeaderLen) return WireError::kTruncated;
  if (check == ChecksumCheck::kVerify && Finish(Sum(m)) != 0) return WireError::kBadChecksum;
  if (m[0] != kIcmpv4EchoRequest && m[0] != kIcmpv4EchoReply) return WireError::kUnsupported;
  if (m[1] != 0) return WireError::kBadCode;
  out->type = m[0];
  out->ident = Load16(m.data() + 4);
  out->seq = Load16(m.data() + 6);
  out->data = m.subspan(kHeaderLen);
  return WireError::kOk;
}

WireError Icmpv4Repr::Emit(std::span<std::uint8_t> m) const {
  if (m.size() < BufferLen()) return WireError::kBufferTooSmall;
  m[0] = type;
  m[1] = 0;
  Store16(m.data() + 2, 0);
  Store16(m.data() + 4, ident);
  Store16(m.data() + 6, seq);
  if (!data.empty()) std::memmove(m.data() + kHeaderLen, data.data(), data.size());
  Store16(m.data() + 2, Finish(Sum(m.first(BufferLen()))));
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
