// The MPTCP option codec: every option variant Linux 6.18 sent in a capture between two network
// namespaces round-trips byte for byte; the HMACs, tokens and DSS checksums in those captures verify
// with mptcp/crypto and mptcp/dss_checksum; hand-made options cover what Linux did not send
// (MP_FAIL, 32-bit DSN/DATA_ACK, MP_TCPRST reasons) and the refusals.
//
// Captures: two namespaces joined by two veths (198.18.1.0/24, 198.18.2.0/24, 2001:db8:N::/64),
// `mptcpize run socat` client and server, the server announcing 198.18.2.1 port 10100 and
// 2001:db8:2::1 (signal endpoints), the client a subflow endpoint later marked backup, the server
// endpoint then deleted, a server closing with unread data (MP_FASTCLOSE + MP_TCPRST); once with
// net.mptcp.checksum_enabled=0 and once with 1; dumpcap on the server side, options read with
// tshark -e tcp.options. Keys were cross-checked against `ip mptcp monitor` tokens.
#include "ustack/mptcp/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hex.h"
#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/dss_checksum.h"
#include "ustack/wire/checksum.h"
#include "ustack/wire/tcp.h"

namespace braid::ustack::mptcp {
namespace {

using braid::ustack::testing::FromHex;
using wire::WireError;

// Whole kind-30 options (kind, length, body) as Linux sent them.
const char* const kCaptured[] = {
    "1e040101",                                                  // MP_CAPABLE SYN, H
    "1e0c0101c71092798c4f2bf0",                                  // MP_CAPABLE SYN/ACK, key B
    "1e14010114ab024e8785cb3ac71092798c4f2bf0",                  // MP_CAPABLE ACK, key A, key B
    "1e160101ae2e287cfc79a291f1d9ed6883a0ce1a2000",              // MP_CAPABLE ACK + data len 8192
    "1e040181",                                                  // MP_CAPABLE SYN, A (checksum) + H
    "1e18018157cc7ed63afe0c0ab5cd99c76c367ad0200097cb",          // MP_CAPABLE ACK + data len + csum
    "1e0c10030709fd03362bb79b",                                  // MP_JOIN SYN, id 3, token, nonce
    "1e0c110350cbb8a666b29aeb",                                  // MP_JOIN SYN, backup
    "1e10100519334e84728a3140e42bc768",                          // MP_JOIN SYN/ACK, id 5
    "1e1810000fa7fb543d5d987db8e4346aad427b2254d1ddc5",          // MP_JOIN ACK, 160-bit HMAC
    "1e0820018672caab",                                          // DSS DATA_ACK 32
    "1e0c20036cf09b5c8672e67b",                                  // DSS DATA_ACK 64
    "1e16200d237bfae56cf09b5c8672caab000000012000",              // DSS ack32 + map64
    "1e16201d237bfae56cf09b5c867825c3000000000001",              // DSS ack32 + DATA_FIN
    "1e1a201f6cf09b5c867825c446ff2ad4237bfae5000000000001",      // DSS ack64 + map64 + DATA_FIN
    "1e18200d47d38f635825e6ed9c8d90ce00000001200097cb",          // DSS ack32 + map64 + csum
    "1e18201d47d38f635825e6ed9c92ebe60000000000013872",          // DSS DATA_FIN + csum
    "1e1c201f5825e6ed9c92ebe79f09cb7947d38f63000000000001be44",  // DSS ack64 + DATA_FIN + csum
    "1e123005c61202012774644dee01b4a7c20f",                      // ADD_ADDR v4 + port + HMAC
    "1e0a3105c61202012774",                                      // ADD_ADDR v4 + port, echo
    "1e1c300620010db80002000000000000000000014f0664f212684c23",  // ADD_ADDR v6 + HMAC
    "1e14310620010db8000200000000000000000001",                  // ADD_ADDR v6, echo
    "1e044005",                                                  // REMOVE_ADDR id 5
    "1e0351",                                                    // MP_PRIO backup
    "1e0c7000b17472dc1758b305",                                  // MP_FASTCLOSE
    "1e048000",                                                  // MP_TCPRST, unspecified
};

std::span<const std::uint8_t> Body(const std::vector<std::uint8_t>& whole) {
  return std::span(whole).subspan(2);
}

Option MustParse(const std::vector<std::uint8_t>& whole) {
  Option o;
  EXPECT_EQ(ParseOption(Body(whole), &o), WireError::kOk);
  return o;
}

std::vector<std::uint8_t> Emit(const Option& o) {
  std::vector<std::uint8_t> out(OptionLen(o));
  if (out.empty()) return out;
  out[0] = wire::kTcpOptMptcp;
  out[1] = static_cast<std::uint8_t>(out.size());
  EXPECT_EQ(EmitOption(o, std::span(out).subspan(2)), WireError::kOk);
  return out;
}

TEST(MptcpOptions, EveryCapturedLinuxOptionRoundTrips) {
  for (const char* hex : kCaptured) {
    const auto whole = FromHex({hex});
    ASSERT_EQ(whole[1], whole.size()) << hex;
    Option o;
    ASSERT_EQ(ParseOption(Body(whole), &o), WireError::kOk) << hex;
    EXPECT_EQ(OptionLen(o), whole.size()) << hex;
    EXPECT_EQ(Emit(o), whole) << hex;
  }
}

TEST(MptcpOptions, MpCapableVariants) {
  auto syn = std::get<MpCapable>(MustParse(FromHex({"1e040181"})));
  EXPECT_EQ(syn.version, 1);
  EXPECT_TRUE(syn.checksum_required && syn.hmac_sha256);
  EXPECT_FALSE(syn.extensibility || syn.no_join_id0 || syn.sender_key);
  auto synack = std::get<MpCapable>(MustParse(FromHex({"1e0c0101c71092798c4f2bf0"})));
  EXPECT_EQ(synack.sender_key, 0xc71092798c4f2bf0ULL);
  EXPECT_FALSE(synack.receiver_key);
  auto ack = std::get<MpCapable>(MustParse(FromHex({"1e18018157cc7ed63afe0c0ab5cd99c76c367ad0200097cb"})));
  EXPECT_EQ(ack.sender_key, 0x57cc7ed63afe0c0aULL);
  EXPECT_EQ(ack.receiver_key, 0xb5cd99c76c367ad0ULL);
  EXPECT_EQ(ack.data_len, 0x2000);
  EXPECT_EQ(ack.checksum, 0x97cb);
  // Hand-made: version 0 and every flag survive (the subflow decides what to refuse).
  MpCapable odd;
  odd.version = 0;
  odd.extensibility = odd.no_join_id0 = true;
  odd.hmac_sha256 = false;
  odd.reserved_flags = 0x06;
  auto back = std::get<MpCapable>(MustParse(Emit(odd)));
  EXPECT_EQ(back.version, 0);
  EXPECT_TRUE(back.extensibility && back.no_join_id0);
  EXPECT_FALSE(back.hmac_sha256);
  EXPECT_EQ(back.reserved_flags, 0x06);
  EXPECT_EQ(Emit(odd), FromHex({"1e040066"}));
  // Impossible combinations are refused on emit.
  MpCapable bad;
  bad.receiver_key = 1;
  EXPECT_EQ(OptionLen(bad), 0u);
  std::uint8_t buf[30];
  EXPECT_EQ(EmitOption(bad, buf), WireError::kBadOption);
}

TEST(MptcpOptions, MpJoinAgainstLiveLinuxKeys) {
  // First connection of the checksum-off capture: client key A, server key B.
  const std::uint64_t key_a = 0x14ab024e8785cb3aULL, key_b = 0xc71092798c4f2bf0ULL;
  EXPECT_EQ(TokenOf(key_b), 0x0709fd03u);  // `ip mptcp monitor` on the server showed token=0709fd03
  EXPECT_EQ(TokenOf(key_a), 0x9343dd57u);  // and on the client token=9343dd57
  auto syn = std::get<MpJoinSyn>(MustParse(FromHex({"1e0c10030709fd03362bb79b"})));
  EXPECT_FALSE(syn.backup);
  EXPECT_EQ(syn.address_id, 3);
  EXPECT_EQ(syn.token, TokenOf(key_b));
  EXPECT_EQ(syn.nonce, 0x362bb79bu);
  auto synack = std::get<MpJoinSynAck>(MustParse(FromHex({"1e10100519334e84728a3140e42bc768"})));
  EXPECT_EQ(synack.address_id, 5);
  EXPECT_EQ(synack.nonce, 0xe42bc768u);
  EXPECT_EQ(synack.hmac, JoinSynAckHmac(key_b, key_a, synack.nonce, syn.nonce));
  auto ack = std::get<MpJoinAck>(MustParse(FromHex({"1e1810000fa7fb543d5d987db8e4346aad427b2254d1ddc5"})));
  EXPECT_TRUE(HmacEqual(ack.hmac, JoinThirdAckHmac(key_a, key_b, syn.nonce, synack.nonce)));
  EXPECT_TRUE(std::get<MpJoinSyn>(MustParse(FromHex({"1e0c110350cbb8a666b29aeb"}))).backup);
}

TEST(MptcpOptions, AddAddrAgainstLiveLinuxKeys) {
  const std::uint64_t key_a = 0x14ab024e8785cb3aULL, key_b = 0xc71092798c4f2bf0ULL;
  auto v4 = std::get<AddAddr>(MustParse(FromHex({"1e123005c61202012774644dee01b4a7c20f"})));
  EXPECT_FALSE(v4.echo);
  EXPECT_EQ(v4.address_id, 5);
  EXPECT_EQ(v4.address, IpAddress::V4(198, 18, 2, 1));
  EXPECT_EQ(v4.port, 10100);
  EXPECT_EQ(v4.hmac, AddAddrHmac(key_b, key_a, v4.address_id, v4.address, v4.port));  // the server sent it
  auto v6 = std::get<AddAddr>(MustParse(FromHex({"1e1c300620010db80002000000000000000000014f0664f212684c23"})));
  EXPECT_FALSE(v6.address.is_v4());
  EXPECT_FALSE(v6.port);
  EXPECT_EQ(v6.hmac, AddAddrHmac(key_b, key_a, v6.address_id, v6.address, std::nullopt));
  auto echo = std::get<AddAddr>(MustParse(FromHex({"1e14310620010db8000200000000000000000001"})));
  EXPECT_TRUE(echo.echo);
  EXPECT_EQ(echo.hmac, 0u);
  EXPECT_EQ(echo.address, v6.address);
  // v4 echo without port: the shortest, 8 bytes.
  AddAddr e4{true, 9, IpAddress::V4(198, 18, 0, 9), std::nullopt, 0};
  EXPECT_EQ(Emit(e4), FromHex({"1e083109c6120009"}));
}

TEST(MptcpOptions, DssVariants) {
  auto ack32 = std::get<Dss>(MustParse(FromHex({"1e0820018672caab"})));
  ASSERT_TRUE(ack32.data_ack);
  EXPECT_FALSE(ack32.ack64);
  EXPECT_EQ(ack32.data_ack->ack, 0x8672caabu);
  EXPECT_FALSE(ack32.mapping);
  auto fin = std::get<Dss>(MustParse(FromHex({"1e1a201f6cf09b5c867825c446ff2ad4237bfae5000000000001"})));
  EXPECT_EQ(fin.data_ack->ack, 0x6cf09b5c867825c4ULL);
  ASSERT_TRUE(fin.mapping);
  EXPECT_EQ(fin.mapping->dsn, 0x46ff2ad4237bfae5ULL);
  EXPECT_EQ(fin.mapping->ssn, 0u);
  EXPECT_EQ(fin.mapping->length, 1);
  EXPECT_TRUE(fin.mapping->data_fin);
  EXPECT_FALSE(fin.mapping->checksum);
  // Hand-made 32-bit DSN with a checksum and no DATA_ACK.
  Dss d;
  d.dsn64 = false;
  d.mapping = DssMapping{0x11223344, 0x55667788, 1400, false, 0xabcd};
  const auto bytes = Emit(d);
  EXPECT_EQ(bytes, FromHex({"1e1020041122334455667788" "0578abcd"}));
  auto back = std::get<Dss>(MustParse(bytes));
  EXPECT_FALSE(back.dsn64);
  EXPECT_EQ(back.mapping->dsn, 0x11223344u);
  EXPECT_EQ(back.mapping->checksum, 0xabcd);
  // F without M: accepted, the flag dropped (Linux ignores it); checksum bytes without a mapping too.
  auto lone_fin = std::get<Dss>(MustParse(FromHex({"1e082011aabbccdd"})));
  EXPECT_FALSE(lone_fin.mapping);
  EXPECT_EQ(lone_fin.data_ack->ack, 0xaabbccddu);
  EXPECT_TRUE(std::holds_alternative<Dss>(MustParse(FromHex({"1e0a2001aabbccdd0000"}))));
  // A bare DSS (no ack, no map) is 4 bytes.
  EXPECT_EQ(Emit(Dss{}), FromHex({"1e042000"}));
}

TEST(MptcpOptions, RemoveAddrPrioFailFastcloseTcprst) {
  RemoveAddr r;
  r.count = 3;
  r.ids = {1, 7, 200};
  EXPECT_EQ(Emit(r), FromHex({"1e06400107c8"}));
  r.count = 8;
  EXPECT_EQ(std::get<RemoveAddr>(MustParse(Emit(r))).count, 8);
  r.count = 0;
  EXPECT_EQ(OptionLen(r), 0u);
  r.count = 9;
  EXPECT_EQ(OptionLen(r), 0u);
  EXPECT_FALSE(std::get<MpPrio>(MustParse(Emit(MpPrio{false}))).backup);
  EXPECT_EQ(Emit(MpPrio{true}), FromHex({"1e0351"}));
  EXPECT_EQ(Emit(MpFail{0x0102030405060708ULL}), FromHex({"1e0c60000102030405060708"}));
  EXPECT_EQ(std::get<MpFail>(MustParse(FromHex({"1e0c60000102030405060708"}))).dsn, 0x0102030405060708ULL);
  EXPECT_EQ(std::get<MpFastclose>(MustParse(FromHex({"1e0c7000b17472dc1758b305"}))).receiver_key,
            0xb17472dc1758b305ULL);
  auto rst = std::get<MpTcprst>(MustParse(FromHex({"1e048106"})));
  EXPECT_TRUE(rst.transient);
  EXPECT_EQ(rst.reason, kRstMiddleboxInterference);
  EXPECT_EQ(Emit(MpTcprst{false, 0, kRstLackOfResources}), FromHex({"1e048002"}));
  EXPECT_EQ(Emit(MpTcprst{true, 0, kRstTooMuchOutstandingData}), FromHex({"1e048104"}));
}

TEST(MptcpOptions, RefusesLengthsThatFitNoVariant) {
  const char* const bad[] = {
      "1e05010100",              // MP_CAPABLE 5
      "1e0d0101c71092798c4f2bf000",  // MP_CAPABLE 13
      "1e17010114ab024e8785cb3ac71092798c4f2bf0200000",  // MP_CAPABLE 23
      "1e0d10030709fd03362bb79b00",  // MP_JOIN 13
      "1e0920018672caab00",      // DSS ack32 + 1
      "1e0c200d237bfae56cf09b5c",    // DSS with map flags but short
      "1e0a3005c61202012774",    // ADD_ADDR v4 without echo needs the HMAC
      "1e0b3105c6120201277400",      // ADD_ADDR 11
      "1e0340",                  // REMOVE_ADDR without ids
      "1e0c40010203040506070809",    // REMOVE_ADDR with 9 ids
      "1e045100",                // MP_PRIO 4 (v0 layout with address id)
      "1e0b600001020304050607",  // MP_FAIL 11
      "1e0d7000b17472dc1758b30500",  // MP_FASTCLOSE 13
      "1e05800000",              // MP_TCPRST 5
  };
  for (const char* hex : bad) {
    const auto whole = FromHex({hex});
    ASSERT_EQ(whole[1], whole.size()) << hex;
    Option o;
    EXPECT_EQ(ParseOption(Body(whole), &o), WireError::kBadOption) << hex;
  }
  Option o;
  EXPECT_EQ(ParseOption(FromHex({"f0"}), &o), WireError::kUnsupported);   // MP_EXPERIMENTAL
  EXPECT_EQ(ParseOption(FromHex({"9000"}), &o), WireError::kUnsupported);  // unassigned
  EXPECT_EQ(ParseOption({}, &o), WireError::kTruncated);
}

TEST(MptcpOptions, ParseOptionsCollectsASegment) {
  // A segment with a DSS, an ADD_ADDR echo, a malformed and an unknown option.
  const auto dss = FromHex({"1e0c20036cf09b5c8672e67b"});
  const auto echo = FromHex({"1e0a3105c61202012774"});
  const auto junk = FromHex({"1e05800000"});
  const auto exp = FromHex({"1e03f0"});
  TcpRepr seg;
  seg.mptcp = {Body(dss), Body(echo), Body(junk), Body(exp)};
  seg.mptcp_count = 4;
  ReceivedOptions r;
  ParseOptions(seg, &r);
  EXPECT_EQ(r.present, std::uint32_t{kOptDss | kOptAddAddr});
  EXPECT_EQ(r.dss.data_ack->ack, 0x6cf09b5c8672e67bULL);
  EXPECT_TRUE(r.add_addr.echo);
  EXPECT_EQ(r.malformed, 1);
  EXPECT_EQ(r.unsupported, 1);
  const auto mpc_ack = FromHex({"1e14010114ab024e8785cb3ac71092798c4f2bf0"});
  seg.mptcp = {Body(mpc_ack)};
  seg.mptcp_count = 1;
  ParseOptions(seg, &r);
  EXPECT_EQ(r.present, std::uint32_t{kOptMpcAck});
  EXPECT_TRUE(r.has(kOptMpcAck));
  EXPECT_EQ(r.mpc.receiver_key, 0xc71092798c4f2bf0ULL);
}

TEST(MptcpOptions, OptionBufferFillsTcpOptionSpace) {
  // A data segment with timestamps (12 bytes of options) has room for 28 more: a full DSS with
  // checksum (28) fits, anything after it does not.
  TcpRepr seg;
  seg.timestamp = TcpTimestamp{1, 2};
  OptionBuffer buf;
  Dss d;
  d.data_ack = DataAck{5};
  d.mapping = DssMapping{10, 1, 100, false, 0x1234};
  ASSERT_EQ(OptionLen(d), 28u);
  EXPECT_EQ(buf.Append(d, &seg), WireError::kOk);
  EXPECT_EQ(buf.Append(MpPrio{true}, &seg), WireError::kOptionsTooLong);
  EXPECT_EQ(seg.mptcp_count, 1);
  // Emitted through the TCP codec and parsed back, the option is intact.
  const IpAddress a = IpAddress::V4(198, 18, 0, 1), b = IpAddress::V4(198, 18, 0, 2);
  std::vector<std::uint8_t> frame(wire::TcpBufferLen(seg));
  ASSERT_EQ(wire::EmitTcp(seg, a, b, frame), WireError::kOk);
  TcpRepr back;
  ASSERT_EQ(wire::ParseTcp(frame, a, b, wire::ChecksumCheck::kVerify, &back), WireError::kOk);
  ReceivedOptions r;
  ParseOptions(back, &r);
  ASSERT_TRUE(r.has(kOptDss));
  EXPECT_EQ(r.dss.mapping->checksum, 0x1234);
  EXPECT_EQ(r.dss.data_ack->ack, 5u);
  // A 22-byte MP_CAPABLE with data is padded to 24 by the TCP codec, as Linux pads it.
  TcpRepr seg2;
  buf.Clear();
  MpCapable mpc;
  mpc.sender_key = 1;
  mpc.receiver_key = 2;
  mpc.data_len = 3;
  EXPECT_EQ(buf.Append(mpc, &seg2), WireError::kOk);
  EXPECT_EQ(wire::TcpHeaderLen(seg2), 20u + 24u);
}

TEST(MptcpOptions, ExpandDataSeq) {
  EXPECT_EQ(ExpandDataSeq(0x0000000500000010ULL, 0x20), 0x0000000500000020ULL);
  EXPECT_EQ(ExpandDataSeq(0x00000005fffffff0ULL, 0x10), 0x0000000600000010ULL);  // wrapped forward
  EXPECT_EQ(ExpandDataSeq(0x0000000600000010ULL, 0xfffffff0), 0x00000005fffffff0ULL);  // old, backward
  EXPECT_EQ(ExpandDataSeq(0x0000000600000010ULL, 0x00000008), 0x0000000600000008ULL);
}

// Segments from a checksum-enabled capture with full payloads (frames as tshark numbered them).
TEST(MptcpDssChecksum, LinuxSegmentsVerify) {
  const std::vector<std::uint8_t> hello = FromHex({"68656c6c6f2062726169640a"});  // "hello braid\n"
  const std::vector<std::uint8_t> second =
      FromHex({"7365636f6e642077726974652c206f6464206c656e677468210a"});  // 26 bytes
  // Frame 4: MP_CAPABLE ACK with data (client key 54a04056de94d31d): implicit DSN = IDSN + 1, SSN 1.
  const std::uint64_t client_idsn = IdsnOf(0x54a04056de94d31dULL);
  EXPECT_EQ(DssChecksum(client_idsn + 1, 1, 12, hello), 0x9d75);
  EXPECT_TRUE(DssChecksumValid(client_idsn + 1, 1, 12, 0x9d75, hello));
  // Frame 6: the server echoes it; DSS 64-bit map, csum 5ed1.
  EXPECT_EQ(DssChecksum(0x7e1ab42f0725fbd9ULL, 1, 12, hello), 0x5ed1);
  // Frames 8 and 9: 26 bytes (odd length is padded) at SSN 13 from each side.
  EXPECT_EQ(DssChecksum(0x1e718a465356faa2ULL, 13, 26, second), 0x4cc4);
  EXPECT_EQ(DssChecksum(0x7e1ab42f0725fbe5ULL, 13, 26, second), 0x0e20);
  // Frames 11 and 13: bare DATA_FIN (length 1, SSN 0, no payload).
  EXPECT_EQ(DssChecksum(0x1e718a465356fabcULL, 0, 1, {}), 0x0934);
  EXPECT_EQ(DssChecksum(0x7e1ab42f0725fbffULL, 0, 1, {}), 0xca8f);
  EXPECT_TRUE(DssChecksumValid(0x7e1ab42f0725fbffULL, 0, 1, 0xca8f, {}));
  // Any flipped bit fails.
  std::vector<std::uint8_t> bad = hello;
  bad[3] ^= 0x10;
  EXPECT_FALSE(DssChecksumValid(client_idsn + 1, 1, 12, 0x9d75, bad));
  EXPECT_FALSE(DssChecksumValid(client_idsn + 2, 1, 12, 0x9d75, hello));
  EXPECT_FALSE(DssChecksumValid(client_idsn + 1, 1, 13, 0x9d75, hello));
  // The infinite mapping carries checksum 0.
  EXPECT_TRUE(DssChecksumValid(5, 0, 0, 0, {}));
  EXPECT_FALSE(DssChecksumValid(5, 0, 0, 1, {}));
}

TEST(MptcpDssChecksum, PartialSumsOverSeveralSegments) {
  std::vector<std::uint8_t> data(3000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const std::uint16_t whole = DssChecksum(0x123456789ULL, 77, 3000, data);
  // Two segments of even length (as TCP segments of a mapping are summed piece by piece).
  const std::uint16_t s = wire::Combine(wire::Sum(std::span(data).first(1448)), wire::Sum(std::span(data).subspan(1448)));
  EXPECT_EQ(DssChecksumFromSum(0x123456789ULL, 77, 3000, s), whole);
  EXPECT_TRUE(DssChecksumValid(0x123456789ULL, 77, 3000, whole, data));
}

}  // namespace
}  // namespace braid::ustack::mptcp
