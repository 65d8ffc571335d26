#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/icmpv4.h"

using namespace braid::ustack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const ChecksumCheck check = (data[0] & 1) ? ChecksumCheck::kVerify : ChecksumCheck::kSkip;
  Icmpv4Repr r;
  if (Icmpv4Repr::Parse({data + 1, size - 1}, check, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(r.BufferLen());
  FUZZ_CHECK(r.Emit(out) == WireError::kOk);
  Icmpv4Repr again;
  FUZZ_CHECK(Icmpv4Repr::Parse(out, ChecksumCheck::kVerify, &again) == WireError::kOk);
  FUZZ_CHECK(again.type == r.type && again.ident == r.ident && again.seq == r.seq);
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(again.data, r.data));
  return 0;
}
