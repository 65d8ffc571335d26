#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/ipv6.h"

using namespace braid::ustack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Ipv6Repr r;
  if (Ipv6Repr::Parse({data, size}, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(r.BufferLen());
  FUZZ_CHECK(r.Emit(out) == WireError::kOk);
  std::copy(r.payload.begin(), r.payload.end(), out.begin() + Ipv6Repr::HeaderLen());
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(out, {data, out.size()}));
  return 0;
}
