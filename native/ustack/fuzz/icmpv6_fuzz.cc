#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/icmpv6.h"

using namespace braid::ustack::wire;
using braid::ustack::IpAddress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Input: one flag byte, then the message; fixed addresses for the pseudo-header.
  if (size < 1) return 0;
  const ChecksumCheck check = (data[0] & 1) ? ChecksumCheck::kVerify : ChecksumCheck::kSkip;
  IpAddress src, dst;
  src.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  dst.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2};
  Icmpv6Repr r;
  if (Icmpv6Repr::Parse({data + 1, size - 1}, src, dst, check, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(r.BufferLen());
  FUZZ_CHECK(r.Emit(src, dst, out) == WireError::kOk);
  Icmpv6Repr again;
  FUZZ_CHECK(Icmpv6Repr::Parse(out, src, dst, ChecksumCheck::kVerify, &again) == WireError::kOk);
  FUZZ_CHECK(again.type == r.type && again.ident == r.ident && again.seq == r.seq);
  FUZZ_CHECK(again.target == r.target && again.lladdr == r.lladdr);
  FUZZ_CHECK(again.router == r.router && again.solicited == r.solicited && again.override_flag == r.override_flag);
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(again.data, r.data));
  return 0;
}
