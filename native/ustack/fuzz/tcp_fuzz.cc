#include <vector>

#include "fuzz_check.h"
#include "ustack/wire/tcp.h"

using namespace braid::ustack::wire;
using braid::ustack::IpAddress;
using braid::ustack::TcpRepr;
using braid::ustack::fuzz::SameBytes;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Input: one flag byte (bit 0: verify the checksum, bit 1: IPv6 pseudo-header), then the segment.
  if (size < 1) return 0;
  const ChecksumCheck check = (data[0] & 1) ? ChecksumCheck::kVerify : ChecksumCheck::kSkip;
  IpAddress src = IpAddress::V4(198, 18, 0, 1), dst = IpAddress::V4(198, 18, 0, 2);
  if (data[0] & 2) {
    src.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    dst.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  }
  TcpRepr r;
  if (ParseTcp({data + 1, size - 1}, src, dst, check, &r) != WireError::kOk) return 0;
  std::vector<std::uint8_t> out(TcpBufferLen(r));
  // Re-laying parsed options the canonical way can need more than the sender's 40 bytes (a
  // 4-block SACK next to SACK-permitted): the one refusal Emit may give.
  const WireError e = EmitTcp(r, src, dst, out);
  if (e == WireError::kOptionsTooLong) return 0;
  FUZZ_CHECK(e == WireError::kOk);
  TcpRepr a;
  FUZZ_CHECK(ParseTcp(out, src, dst, ChecksumCheck::kVerify, &a) == WireError::kOk);
  FUZZ_CHECK(a.src_port == r.src_port && a.dst_port == r.dst_port && a.seq == r.seq && a.ack == r.ack);
  FUZZ_CHECK(a.flags == r.flags && a.window == r.window && a.urgent == r.urgent);
  FUZZ_CHECK(a.mss == r.mss && a.window_scale == r.window_scale && a.sack_permitted == r.sack_permitted);
  FUZZ_CHECK(a.timestamp.has_value() == r.timestamp.has_value());
  if (a.timestamp) FUZZ_CHECK(a.timestamp->value == r.timestamp->value && a.timestamp->echo == r.timestamp->echo);
  FUZZ_CHECK(a.sack_count == r.sack_count);
  for (int i = 0; i < a.sack_count; ++i) FUZZ_CHECK(a.sack[i].left == r.sack[i].left && a.sack[i].right == r.sack[i].right);
  FUZZ_CHECK(a.mptcp_count == r.mptcp_count);
  for (int i = 0; i < a.mptcp_count; ++i) FUZZ_CHECK(SameBytes(a.mptcp[i], r.mptcp[i]));
  FUZZ_CHECK(SameBytes(a.payload, r.payload));
  return 0;
}
