// The TCP codec: captured Linux segments round-trip byte for byte; options and rejections.
#include "ustack/wire/tcp.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "captured_frames.h"
#include "ustack/wire/ipv4.h"
#include "ustack/wire/ipv6.h"

namespace braid::ustack::wire {
namespace {

using namespace braid::ustack::testing;

struct Segment {
  IpAddress src, dst;
  std::span<const std::uint8_t> bytes;
};

Segment V4Segment(const std::vector<std::uint8_t>& frame) {
  Ipv4Repr ip;
  EXPECT_EQ(Ipv4Repr::Parse(std::span(frame).subspan(14), ChecksumCheck::kVerify, &ip), WireError::kOk);
  return {ip.src, ip.dst, ip.payload};
}

Segment V6Segment(const std::vector<std::uint8_t>& frame) {
  Ipv6Repr ip;
  EXPECT_EQ(Ipv6Repr::Parse(std::span(frame).subspan(14), &ip), WireError::kOk);
  return {ip.src, ip.dst, ip.payload};
}

void ExpectRoundTrip(const Segment& s) {
  TcpRepr r;
  ASSERT_EQ(ParseTcp(s.bytes, s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  ASSERT_EQ(TcpBufferLen(r), s.bytes.size());
  std::vector<std::uint8_t> out(TcpBufferLen(r));
  ASSERT_EQ(EmitTcp(r, s.src, s.dst, out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), s.bytes.begin()));
}

TEST(WireTcp, CapturedSynV4) {
  Segment s = V4Segment(kFrameTcpSynV4);
  TcpRepr r;
  ASSERT_EQ(ParseTcp(s.bytes, s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  EXPECT_EQ(r.src_port, 49486);
  EXPECT_EQ(r.dst_port, 8080);
  EXPECT_EQ(r.seq, 0x6cbe7229u);
  EXPECT_EQ(r.flags, kTcpSyn);
  EXPECT_EQ(r.window, 64240);
  EXPECT_EQ(r.mss, 1460);
  EXPECT_EQ(r.window_scale, 10);
  EXPECT_TRUE(r.sack_permitted);
  ASSERT_TRUE(r.timestamp);
  EXPECT_EQ(r.timestamp->value, 1634163159u);
  EXPECT_EQ(r.timestamp->echo, 0u);
  EXPECT_EQ(r.segment_length(), 1u);
  ExpectRoundTrip(s);
}

TEST(WireTcp, CapturedDataV4) {
  Segment s = V4Segment(kFrameTcpDataV4);
  TcpRepr r;
  ASSERT_EQ(ParseTcp(s.bytes, s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  EXPECT_EQ(r.flags, kTcpPsh | kTcpAck);
  EXPECT_FALSE(r.mss);
  EXPECT_FALSE(r.sack_permitted);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(r.payload.data()), r.payload.size()), "hello\n");
  ExpectRoundTrip(s);
}

TEST(WireTcp, CapturedV6) {
  ExpectRoundTrip(V6Segment(kFrameTcpSynV6));
  ExpectRoundTrip(V6Segment(kFrameTcpDataV6));
  Segment s = V6Segment(kFrameTcpSynV6);
  TcpRepr r;
  ASSERT_EQ(ParseTcp(s.bytes, s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kOk);
  EXPECT_EQ(r.mss, 1440);
}

TEST(WireTcp, EmitsSackAndMptcpAndParsesThemBack) {
  const IpAddress a = IpAddress::V4(198, 18, 0, 1), b = IpAddress::V4(198, 18, 0, 2);
  const std::uint8_t mp_capable[] = {0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8};  // MP_CAPABLE v1, with a key
  const std::uint8_t dss[] = {0x20, 0x01, 0, 0, 0, 9};                     // DSS, DATA_ACK4
  const std::uint8_t data[] = {'x', 'y', 'z'};
  TcpRepr r;
  r.src_port = 1;
  r.dst_port = 2;
  r.seq = 100;
  r.ack = 200;
  r.flags = kTcpAck;
  r.window = 512;
  r.sack[0] = {300, 400};
  r.sack_count = 1;
  r.mptcp[0] = mp_capable;
  r.mptcp[1] = dss;
  r.mptcp_count = 2;
  r.payload = data;
  std::vector<std::uint8_t> out(TcpBufferLen(r));
  ASSERT_EQ(TcpHeaderLen(r) % 4, 0u);
  ASSERT_EQ(EmitTcp(r, a, b, out), WireError::kOk);
  TcpRepr p;
  ASSERT_EQ(ParseTcp(out, a, b, ChecksumCheck::kVerify, &p), WireError::kOk);
  EXPECT_EQ(p.seq, 100u);
  EXPECT_EQ(p.ack, 200u);
  ASSERT_EQ(p.sack_count, 1);
  EXPECT_EQ(p.sack[0].left, 300u);
  EXPECT_EQ(p.sack[0].right, 400u);
  EXPECT_FALSE(p.timestamp);
  ASSERT_EQ(p.mptcp_count, 2);
  EXPECT_TRUE(std::equal(p.mptcp[0].begin(), p.mptcp[0].end(), std::begin(mp_capable), std::end(mp_capable)));
  EXPECT_TRUE(std::equal(p.mptcp[1].begin(), p.mptcp[1].end(), std::begin(dss), std::end(dss)));
  EXPECT_EQ(p.payload.size(), 3u);
}

TEST(WireTcp, OptionsBeyondFortyBytesAreRefusedOnEmit) {
  TcpRepr r;
  r.timestamp = TcpTimestamp{1, 2};
  r.sack_count = 4;  // 12 + 36 = 48 bytes
  std::vector<std::uint8_t> out(TcpBufferLen(r));
  EXPECT_EQ(EmitTcp(r, IpAddress::V4(1, 1, 1, 1), IpAddress::V4(2, 2, 2, 2), out), WireError::kOptionsTooLong);
  r.sack_count = 3;
  out.resize(TcpBufferLen(r));
  EXPECT_EQ(EmitTcp(r, IpAddress::V4(1, 1, 1, 1), IpAddress::V4(2, 2, 2, 2), out), WireError::kOk);
  out.pop_back();
  EXPECT_EQ(EmitTcp(r, IpAddress::V4(1, 1, 1, 1), IpAddress::V4(2, 2, 2, 2), out), WireError::kBufferTooSmall);
}

// Builds a 20-byte header plus `options` (padded by the caller to a multiple of 4), checksum skipped.
std::vector<std::uint8_t> WithOptions(std::vector<std::uint8_t> options) {
  std::vector<std::uint8_t> b(20 + options.size(), 0);
  b[12] = static_cast<std::uint8_t>((b.size() / 4) << 4);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  return b;
}

WireError ParseSkip(const std::vector<std::uint8_t>& b, TcpRepr* r) {
  return ParseTcp(b, IpAddress{}, IpAddress{}, ChecksumCheck::kSkip, r);
}

TEST(WireTcp, UnknownOptionsAreSkipped) {
  TcpRepr r;
  // Kind 254 (experimental) of length 6, then MSS, then EOL.
  ASSERT_EQ(ParseSkip(WithOptions({254, 6, 0xf9, 0x89, 0, 0, 2, 4, 0x05, 0xb4, 0, 0}), &r), WireError::kOk);
  EXPECT_EQ(r.mss, 1460);
}

TEST(WireTcp, MalformedOptionsAreRejected) {
  TcpRepr r;
  EXPECT_EQ(ParseSkip(WithOptions({2, 3, 0, 0}), &r), WireError::kBadOption);         // MSS of length 3
  EXPECT_EQ(ParseSkip(WithOptions({254, 1, 0, 0}), &r), WireError::kBadOption);       // length < 2
  EXPECT_EQ(ParseSkip(WithOptions({1, 1, 254, 8}), &r), WireError::kBadOption);       // runs past the header
  EXPECT_EQ(ParseSkip(WithOptions({1, 1, 1, 8}), &r), WireError::kBadOption);         // kind without length
  EXPECT_EQ(ParseSkip(WithOptions({5, 6, 0, 0, 0, 0, 0, 0}), &r), WireError::kBadOption);  // SACK not 8n
  EXPECT_EQ(ParseSkip(WithOptions({30, 2, 0, 0}), &r), WireError::kBadOption);        // MPTCP without subtype
  EXPECT_EQ(ParseSkip(WithOptions({8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), &r), WireError::kOk);
}

TEST(WireTcp, HeaderAndChecksumRejections) {
  Segment s = V4Segment(kFrameTcpDataV4);
  std::vector<std::uint8_t> b(s.bytes.begin(), s.bytes.end());
  TcpRepr r;
  EXPECT_EQ(ParseTcp(std::span(b).first(19), s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kTruncated);
  auto doff = b;
  doff[12] = 0x40;
  EXPECT_EQ(ParseTcp(doff, s.src, s.dst, ChecksumCheck::kSkip, &r), WireError::kBadHeaderLength);
  doff[12] = 0xf0;
  EXPECT_EQ(ParseTcp(std::span(doff).first(40), s.src, s.dst, ChecksumCheck::kSkip, &r), WireError::kTruncated);
  b.back() ^= 0x20;
  EXPECT_EQ(ParseTcp(b, s.src, s.dst, ChecksumCheck::kVerify, &r), WireError::kBadChecksum);
  EXPECT_EQ(ParseTcp(b, s.src, s.dst, ChecksumCheck::kSkip, &r), WireError::kOk);
}

TEST(WireTcp, ErrorNamesAreStable) {
  EXPECT_STREQ(WireErrorName(WireError::kBadOption), "bad-option");
  EXPECT_STREQ(WireErrorName(WireError::kBadChecksum), "bad-checksum");
}

}  // namespace
}  // namespace braid::ustack::wire
