#include "ustack/wire/checksum.h"

#include <gtest/gtest.h>

#include <vector>

#include "captured_frames.h"
#include "ustack/wire/ip_protocol.h"

namespace braid::ustack::wire {
namespace {

using testing::kFrameTcpSynV4;
using testing::kFrameTcpSynV6;

// RFC 1071 section 3's worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
TEST(WireChecksum, Rfc1071Example) {
  const std::vector<std::uint8_t> b{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(Sum(b), 0xddf2);
  EXPECT_EQ(Finish(Sum(b)), 0x220d);
}

TEST(WireChecksum, OddLengthPadsWithZero) {
  const std::vector<std::uint8_t> odd{0x12, 0x34, 0x56};
  const std::vector<std::uint8_t> even{0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(Sum(odd), Sum(even));
}

TEST(WireChecksum, SplitSumsCombine) {
  std::vector<std::uint8_t> b(1000);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const std::span<const std::uint8_t> s(b);
  EXPECT_EQ(Combine(Sum(s.first(400)), Sum(s.subspan(400))), Sum(s));
  EXPECT_EQ(Sum(s.subspan(400), Sum(s.first(400))), Sum(s));
}

TEST(WireChecksum, CapturedTcpV4VerifiesOverPseudoHeader) {
  const std::span<const std::uint8_t> seg = std::span(kFrameTcpSynV4).subspan(34);
  const IpAddress src = IpAddress::V4(198, 18, 0, 1), dst = IpAddress::V4(198, 18, 0, 2);
  EXPECT_EQ(UpperLayerChecksum(src, dst, kIpProtoTcp, seg), 0);
  EXPECT_NE(UpperLayerChecksum(dst, IpAddress::V4(198, 18, 0, 3), kIpProtoTcp, seg), 0);
}

TEST(WireChecksum, CapturedTcpV6VerifiesOverPseudoHeader) {
  const std::span<const std::uint8_t> frame(kFrameTcpSynV6);
  IpAddress src, dst;
  std::copy_n(frame.data() + 14 + 8, 16, src.bytes.data());
  std::copy_n(frame.data() + 14 + 24, 16, dst.bytes.data());
  EXPECT_EQ(UpperLayerChecksum(src, dst, kIpProtoTcp, frame.subspan(54)), 0);
}

}  // namespace
}  // namespace braid::ustack::wire
