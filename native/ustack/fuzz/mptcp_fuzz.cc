// The MPTCP option codec (mptcp/options.h). Input: one kind-30 option body (the bytes after kind and
// length, as TcpRepr::mptcp holds them). Whatever parses must emit at its stated length, and
// emitting is a fixed point: Emit(Parse(Emit(o))) == Emit(o). (Not Emit(Parse(x)) == x: the codec
// drops what carries no meaning, e.g. reserved bits and a DSS DATA_FIN without a mapping, as Linux
// does.) The same bytes also go through ParseOptions as a segment's options, and the DSS checksum
// runs over them.
#include <vector>

#include "fuzz_check.h"
#include "ustack/mptcp/dss_checksum.h"
#include "ustack/mptcp/options.h"

using namespace braid::ustack::mptcp;
using braid::ustack::TcpRepr;
using braid::ustack::fuzz::SameBytes;
using braid::ustack::wire::WireError;

namespace {
std::uint64_t Load64Or0(std::span<const std::uint8_t> b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < b.size(); ++i) v = (v << 8) | b[i];
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A kind-30 option is at most 253 bytes of body (length byte 255 minus kind and length).
  if (size > 253) return 0;
  const std::span<const std::uint8_t> body(data, size);
  TcpRepr seg;
  seg.mptcp[0] = body;
  seg.mptcp_count = 1;
  ReceivedOptions r;
  ParseOptions(seg, &r);
  (void)DssChecksum(Load64Or0(body), 0, static_cast<std::uint16_t>(size), body);

  Option o;
  const WireError e = ParseOption(body, &o);
  FUZZ_CHECK((e == WireError::kOk) == (r.present != 0));
  if (e != WireError::kOk) return 0;
  const std::size_t n = OptionLen(o);
  FUZZ_CHECK(n >= 3 && n <= size + 2);
  std::vector<std::uint8_t> once(n - 2);
  FUZZ_CHECK(EmitOption(o, once) == WireError::kOk);
  FUZZ_CHECK(once[0] >> 4 == body[0] >> 4);  // the subtype survives
  Option again;
  FUZZ_CHECK(ParseOption(once, &again) == WireError::kOk);
  FUZZ_CHECK(again.index() == o.index());
  FUZZ_CHECK(OptionLen(again) == n);
  std::vector<std::uint8_t> twice(n - 2);
  FUZZ_CHECK(EmitOption(again, twice) == WireError::kOk);
  FUZZ_CHECK(SameBytes(once, twice));
  return 0;
}
