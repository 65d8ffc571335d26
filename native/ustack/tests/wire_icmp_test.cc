// ICMP echo (v4 and v6) and neighbour discovery round trips on captured frames.
#include <gtest/gtest.h>

#include <vector>

#include "captured_frames.h"
#include "ustack/wire/icmpv4.h"
#include "ustack/wire/icmpv6.h"
#include "ustack/wire/ipv6.h"

namespace braid::ustack::wire {
namespace {

using namespace braid::ustack::testing;

TEST(WireIcmpv4, EchoRequestAndReplyRoundTrip) {
  for (const auto* frame : {&kFrameIcmpEchoRequest, &kFrameIcmpEchoReply}) {
    const std::span<const std::uint8_t> msg = std::span(*frame).subspan(34);
    Icmpv4Repr icmp;
    ASSERT_EQ(Icmpv4Repr::Parse(msg, ChecksumCheck::kVerify, &icmp), WireError::kOk);
    EXPECT_EQ(icmp.ident, 0x6a9b);
    EXPECT_EQ(icmp.seq, 1);
    EXPECT_EQ(icmp.data.size(), 16u);
    std::vector<std::uint8_t> out(icmp.BufferLen());
    ASSERT_EQ(icmp.Emit(out), WireError::kOk);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), msg.begin()));
  }
}

TEST(WireIcmpv4, RejectionReasons) {
  std::vector<std::uint8_t> b(kFrameIcmpEchoRequest.begin() + 34, kFrameIcmpEchoRequest.end());
  Icmpv4Repr icmp;
  EXPECT_EQ(Icmpv4Repr::Parse(std::span(b).first(7), ChecksumCheck::kVerify, &icmp), WireError::kTruncated);
  b[9] ^= 1;
  EXPECT_EQ(Icmpv4Repr::Parse(b, ChecksumCheck::kVerify, &icmp), WireError::kBadChecksum);
  b[9] ^= 1;
  b[0] = 3;  // destination unreachable: not handled here
  EXPECT_EQ(Icmpv4Repr::Parse(b, ChecksumCheck::kSkip, &icmp), WireError::kUnsupported);
  b[0] = 8;
  b[1] = 1;
  EXPECT_EQ(Icmpv4Repr::Parse(b, ChecksumCheck::kSkip, &icmp), WireError::kBadCode);
}

struct V6Frame {
  IpAddress src, dst;
  std::span<const std::uint8_t> msg;
};

V6Frame Split(const std::vector<std::uint8_t>& frame) {
  Ipv6Repr ip;
  EXPECT_EQ(Ipv6Repr::Parse(std::span(frame).subspan(14), &ip), WireError::kOk);
  return {ip.src, ip.dst, ip.payload};
}

TEST(WireIcmpv6, EchoRoundTrip) {
  for (const auto* frame : {&kFrameIcmpv6EchoRequest, &kFrameIcmpv6EchoReply}) {
    V6Frame f = Split(*frame);
    Icmpv6Repr icmp;
    ASSERT_EQ(Icmpv6Repr::Parse(f.msg, f.src, f.dst, ChecksumCheck::kVerify, &icmp), WireError::kOk);
    EXPECT_EQ(icmp.ident, 0x6a9c);
    EXPECT_EQ(icmp.data.size(), 16u);
    std::vector<std::uint8_t> out(icmp.BufferLen());
    ASSERT_EQ(icmp.Emit(f.src, f.dst, out), WireError::kOk);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), f.msg.begin()));
  }
}

TEST(WireIcmpv6, NeighborSolicitAndAdvertRoundTrip) {
  V6Frame ns = Split(kFrameNeighborSolicit);
  Icmpv6Repr r;
  ASSERT_EQ(Icmpv6Repr::Parse(ns.msg, ns.src, ns.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  EXPECT_EQ(r.type, kIcmpv6NeighborSolicit);
  ASSERT_TRUE(r.lladdr);
  EXPECT_EQ(*r.lladdr, (MacAddress{0x02, 0, 0, 0, 0, 0x0a}));
  EXPECT_EQ(SolicitedNodeMulticast(r.target), ns.dst);
  std::vector<std::uint8_t> out(r.BufferLen());
  ASSERT_EQ(r.Emit(ns.src, ns.dst, out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), ns.msg.begin()));

  V6Frame na = Split(kFrameNeighborAdvert);
  ASSERT_EQ(Icmpv6Repr::Parse(na.msg, na.src, na.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  EXPECT_EQ(r.type, kIcmpv6NeighborAdvert);
  EXPECT_TRUE(r.solicited);
  EXPECT_TRUE(r.override_flag);
  EXPECT_FALSE(r.router);
  ASSERT_TRUE(r.lladdr);
  EXPECT_EQ(*r.lladdr, (MacAddress{0x02, 0, 0, 0, 0, 0x0b}));
  out.assign(r.BufferLen(), 0);
  ASSERT_EQ(r.Emit(na.src, na.dst, out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), na.msg.begin()));
}

TEST(WireIcmpv6, RejectionReasons) {
  V6Frame ns = Split(kFrameNeighborSolicit);
  std::vector<std::uint8_t> b(ns.msg.begin(), ns.msg.end());
  Icmpv6Repr r;
  auto parse = [&](std::span<const std::uint8_t> m, ChecksumCheck c = ChecksumCheck::kSkip) {
    return Icmpv6Repr::Parse(m, ns.src, ns.dst, c, &r);
  };
  EXPECT_EQ(parse(b, ChecksumCheck::kVerify), WireError::kOk);
  // The pseudo-header counts: the same bytes from another source fail.
  EXPECT_EQ(Icmpv6Repr::Parse(b, ns.dst, ns.dst, ChecksumCheck::kVerify, &r), WireError::kBadChecksum);
  EXPECT_EQ(parse(std::span(b).first(20)), WireError::kTruncated);
  auto zero_len = b;
  zero_len[25] = 0;  // RFC 4861 4.6: a zero-length option is invalid
  EXPECT_EQ(parse(zero_len), WireError::kBadOption);
  auto long_opt = b;
  long_opt[25] = 2;  // 16 bytes, past the end
  EXPECT_EQ(parse(long_opt), WireError::kBadOption);
  auto code = b;
  code[1] = 1;
  EXPECT_EQ(parse(code), WireError::kBadCode);
  auto mld = b;
  mld[0] = 143;
  EXPECT_EQ(parse(mld), WireError::kUnsupported);
}

}  // namespace
}  // namespace braid::ustack::wire
