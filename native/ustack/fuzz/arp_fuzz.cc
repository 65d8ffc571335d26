#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/arp.h"

using namespace braid::ustack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ArpRepr r;
  if (ArpRepr::Parse({data, size}, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(ArpRepr::BufferLen());
  FUZZ_CHECK(r.Emit(out) == WireError::kOk);
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(out, {data, ArpRepr::kLen}));
  return 0;
}
