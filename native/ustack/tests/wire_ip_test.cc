// IPv4 and IPv6 headers: captured round trips, and each rejection rule.
#include <gtest/gtest.h>

#include <vector>

#include "captured_frames.h"
#include "ustack/wire/ip_protocol.h"
#include "ustack/wire/ipv4.h"
#include "ustack/wire/ipv6.h"

namespace braid::ustack::wire {
namespace {

using namespace braid::ustack::testing;

IpAddress V6(std::initializer_list<std::uint8_t> tail) {
  IpAddress a;
  a.bytes = {0x20, 0x01, 0x0d, 0xb8};
  std::size_t i = 16 - tail.size();
  for (auto b : tail) a.bytes[i++] = b;
  return a;
}

TEST(WireIpv4, CapturedHeaderRoundTrips) {
  const std::span<const std::uint8_t> pkt = std::span(kFrameIcmpEchoRequest).subspan(14);
  Ipv4Repr ip;
  ASSERT_EQ(Ipv4Repr::Parse(pkt, ChecksumCheck::kVerify, &ip), WireError::kOk);
  EXPECT_EQ(ip.src, IpAddress::V4(198, 18, 0, 1));
  EXPECT_EQ(ip.dst, IpAddress::V4(198, 18, 0, 2));
  EXPECT_EQ(ip.protocol, kIpProtoIcmp);
  EXPECT_EQ(ip.ttl, 64);
  EXPECT_EQ(ip.ident, 0xe36d);
  EXPECT_TRUE(ip.dont_fragment);
  EXPECT_EQ(ip.payload_len, 24);
  std::vector<std::uint8_t> out(Ipv4Repr::HeaderLen());
  ASSERT_EQ(ip.Emit(out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), pkt.begin()));
}

TEST(WireIpv4, CutsEthernetPaddingAtTotalLength) {
  std::vector<std::uint8_t> b(kFrameIcmpEchoRequest.begin() + 14, kFrameIcmpEchoRequest.end());
  b.resize(b.size() + 10, 0);
  Ipv4Repr ip;
  ASSERT_EQ(Ipv4Repr::Parse(b, ChecksumCheck::kVerify, &ip), WireError::kOk);
  EXPECT_EQ(ip.payload.size(), 24u);
}

TEST(WireIpv4, RejectionReasons) {
  const std::vector<std::uint8_t> good(kFrameIcmpEchoRequest.begin() + 14, kFrameIcmpEchoRequest.end());
  Ipv4Repr ip;
  auto with = [&](auto mutate) {
    auto b = good;
    mutate(b);
    return Ipv4Repr::Parse(b, ChecksumCheck::kVerify, &ip);
  };
  EXPECT_EQ(Ipv4Repr::Parse(std::span(good).first(19), ChecksumCheck::kVerify, &ip), WireError::kTruncated);
  EXPECT_EQ(with([](auto& b) { b[0] = 0x65; }), WireError::kBadVersion);
  EXPECT_EQ(with([](auto& b) { b[0] = 0x44; }), WireError::kBadHeaderLength);
  EXPECT_EQ(with([](auto& b) { b[3] = 10; }), WireError::kBadTotalLength);
  EXPECT_EQ(with([](auto& b) { b[3] = 0x40; }), WireError::kTruncated);
  EXPECT_EQ(with([](auto& b) { b[8] = 63; }), WireError::kBadChecksum);
  auto b = good;
  b[8] = 63;
  EXPECT_EQ(Ipv4Repr::Parse(b, ChecksumCheck::kSkip, &ip), WireError::kOk);
}

TEST(WireIpv6, CapturedHeaderRoundTrips) {
  const std::span<const std::uint8_t> pkt = std::span(kFrameIcmpv6EchoRequest).subspan(14);
  Ipv6Repr ip;
  ASSERT_EQ(Ipv6Repr::Parse(pkt, &ip), WireError::kOk);
  EXPECT_EQ(ip.src, V6({1}));
  EXPECT_EQ(ip.dst, V6({2}));
  EXPECT_EQ(ip.next_header, kIpProtoIcmpv6);
  EXPECT_EQ(ip.hop_limit, 64);
  EXPECT_EQ(ip.flow_label, 0xa38edu);
  EXPECT_EQ(ip.payload_len, 24);
  std::vector<std::uint8_t> out(Ipv6Repr::HeaderLen());
  ASSERT_EQ(ip.Emit(out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), pkt.begin()));
}

TEST(WireIpv6, RejectionReasons) {
  std::vector<std::uint8_t> b(kFrameIcmpv6EchoRequest.begin() + 14, kFrameIcmpv6EchoRequest.end());
  Ipv6Repr ip;
  EXPECT_EQ(Ipv6Repr::Parse(std::span(b).first(39), &ip), WireError::kTruncated);
  EXPECT_EQ(Ipv6Repr::Parse(std::span(b).first(50), &ip), WireError::kTruncated);  // payload length 24
  b[0] = 0x40;
  EXPECT_EQ(Ipv6Repr::Parse(b, &ip), WireError::kBadVersion);
}

TEST(WireIpv6, AddressHelpers) {
  const IpAddress target = V6({2});
  const IpAddress snm = SolicitedNodeMulticast(target);
  EXPECT_TRUE(IsMulticast(snm));
  EXPECT_EQ(MulticastMac(snm), (MacAddress{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}));
  const IpAddress ll = LinkLocalFromMac(MacAddress{0x02, 0, 0, 0, 0, 0x0b});
  EXPECT_TRUE(IsLinkLocal(ll));
  // fe80::ff:fe00:b, as Linux derived it for this MAC in the capture.
  IpAddress want;
  want.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0x0b};
  EXPECT_EQ(ll, want);
  EXPECT_FALSE(IsMulticast(IpAddress::V4(224, 0, 0, 1)));
}

}  // namespace
}  // namespace braid::ustack::wire
