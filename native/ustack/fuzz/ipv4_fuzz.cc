#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/ipv4.h"

using namespace braid::ustack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte picks whether the header checksum is verified, so both paths get exercised.
  if (size < 1) return 0;
  const ChecksumCheck check = (data[0] & 1) ? ChecksumCheck::kVerify : ChecksumCheck::kSkip;
  Ipv4Repr r;
  if (Ipv4Repr::Parse({data + 1, size - 1}, check, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(r.BufferLen());
  FUZZ_CHECK(r.Emit(out) == WireError::kOk);
  std::copy(r.payload.begin(), r.payload.end(), out.begin() + Ipv4Repr::HeaderLen());
  Ipv4Repr again;
  FUZZ_CHECK(Ipv4Repr::Parse(out, ChecksumCheck::kVerify, &again) == WireError::kOk);
  FUZZ_CHECK(again.src == r.src && again.dst == r.dst && again.protocol == r.protocol && again.ttl == r.ttl);
  FUZZ_CHECK(again.dscp_ecn == r.dscp_ecn && again.ident == r.ident && again.dont_fragment == r.dont_fragment);
  FUZZ_CHECK(braid::ustack::fuzz::SameBytes(again.payload, r.payload));
  return 0;
}
