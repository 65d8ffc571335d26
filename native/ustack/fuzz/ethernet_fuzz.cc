#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/ethernet.h"

using namespace braid::ustack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  EthernetRepr r;
  if (EthernetRepr::Parse({data, size}, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(r.BufferLen(r.payload.size()));
  FUZZ_CHECK(r.Emit(out) == WireError::kOk);
  std::copy(r.payload.begin(), r.payload.end(), out.begin() + EthernetRepr::HeaderLen());
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(out, {data, size}));
  return 0;
}
