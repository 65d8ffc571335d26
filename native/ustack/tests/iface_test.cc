// The IP interface over a MemoryLink: end b is the interface, end a plays Linux with captured frames.
#include "ustack/iface/interface.h"

#include <gtest/gtest.h>

#include <vector>

#include "captured_frames.h"
#include "ustack/phy/memory_link.h"
#include "ustack/wire/arp.h"
#include "ustack/wire/checksum.h"
#include "ustack/wire/ethernet.h"
#include "ustack/wire/icmpv4.h"
#include "ustack/wire/icmpv6.h"
#include "ustack/wire/ip_protocol.h"
#include "ustack/wire/ipv4.h"
#include "ustack/wire/ipv6.h"
#include "ustack/wire/tcp.h"

namespace braid::ustack {
namespace {

using namespace braid::ustack::testing;
using namespace braid::ustack::wire;

const MacAddress kLinuxMac{0x02, 0, 0, 0, 0, 0x0a};
const MacAddress kOurMac{0x02, 0, 0, 0, 0, 0x0b};

IpAddress Db8(std::uint8_t last) {
  IpAddress a;
  a.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return a;
}

class IfaceTest : public ::testing::Test {
 protected:
  IfaceTest() : link_(Options()), iface_(link_.b(), Config()) {}

  static MemoryLink::Options Options() {
    MemoryLink::Options o;
    o.mac_a = kLinuxMac;
    o.mac_b = kOurMac;
    return o;
  }
  static InterfaceConfig Config() {
    InterfaceConfig c;
    c.ipv4 = IpCidr{IpAddress::V4(198, 18, 0, 2), 24};
    c.ipv6 = IpCidr{Db8(2), 64};
    return c;
  }

  // Linux (end a) sends `frame`; the interface polls at `now`; returns what came back to Linux.
  std::vector<std::vector<std::uint8_t>> Exchange(std::span<const std::uint8_t> frame, Instant now = Instant{}) {
    link_.a().Transmit(now, frame);
    iface_.Poll(now);
    return Collect(now);
  }
  std::vector<std::vector<std::uint8_t>> Collect(Instant now) {
    std::vector<std::vector<std::uint8_t>> out;
    link_.a().Receive(now, 100, [&](std::span<const std::uint8_t> f) { out.emplace_back(f.begin(), f.end()); });
    return out;
  }

  MemoryLink link_;
  Interface iface_;
};

TEST_F(IfaceTest, AnswersArpLikeLinux) {
  auto out = Exchange(kFrameArpRequest);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 60u);  // padded to the Ethernet minimum
  EXPECT_TRUE(std::equal(kFrameArpReply.begin(), kFrameArpReply.end(), out[0].begin()));
  EXPECT_EQ(iface_.counters().arp_replies, 1u);
}

TEST_F(IfaceTest, ArpForAnotherHostIsCountedNotAnswered) {
  auto req = kFrameArpRequest;
  req[14 + 27] = 9;  // target 198.18.0.9
  EXPECT_TRUE(Exchange(req).empty());
  EXPECT_EQ(iface_.drops(IfaceDrop::kArpNotForUs), 1u);
}

TEST_F(IfaceTest, AnswersPingV4) {
  Exchange(kFrameArpRequest);  // Linux ARPs first, and we learn its MAC from that
  auto out = Exchange(kFrameIcmpEchoRequest);
  ASSERT_EQ(out.size(), 1u);
  EthernetRepr eth;
  ASSERT_EQ(EthernetRepr::Parse(out[0], &eth), WireError::kOk);
  EXPECT_EQ(eth.dst, kLinuxMac);
  Ipv4Repr ip;
  ASSERT_EQ(Ipv4Repr::Parse(eth.payload, ChecksumCheck::kVerify, &ip), WireError::kOk);
  EXPECT_EQ(ip.src, IpAddress::V4(198, 18, 0, 2));
  EXPECT_EQ(ip.dst, IpAddress::V4(198, 18, 0, 1));
  // ICMP message identical to the one Linux sent back in the capture.
  EXPECT_TRUE(std::equal(ip.payload.begin(), ip.payload.end(), kFrameIcmpEchoReply.begin() + 34));
  EXPECT_EQ(iface_.counters().echo_replies, 1u);
}

TEST_F(IfaceTest, AnswersNeighborSolicitationLikeLinux) {
  auto out = Exchange(kFrameNeighborSolicit);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], kFrameNeighborAdvert);
  EXPECT_EQ(iface_.counters().nd_advertisements, 1u);
}

TEST_F(IfaceTest, NeighborSolicitationWithWrongHopLimitIsInvalid) {
  auto ns = kFrameNeighborSolicit;
  ns[14 + 7] = 64;
  EXPECT_TRUE(Exchange(ns).empty());
  EXPECT_EQ(iface_.drops(IfaceDrop::kNdInvalid), 1u);
}

TEST_F(IfaceTest, AnswersPingV6) {
  Exchange(kFrameNeighborSolicit);
  auto out = Exchange(kFrameIcmpv6EchoRequest);
  ASSERT_EQ(out.size(), 1u);
  Ipv6Repr ip;
  ASSERT_EQ(Ipv6Repr::Parse(std::span(out[0]).subspan(14), &ip), WireError::kOk);
  EXPECT_EQ(ip.src, Db8(2));
  EXPECT_EQ(ip.dst, Db8(1));
  Icmpv6Repr icmp;
  ASSERT_EQ(Icmpv6Repr::Parse(ip.payload, ip.src, ip.dst, ChecksumCheck::kVerify, &icmp), WireError::kOk);
  EXPECT_EQ(icmp.type, kIcmpv6EchoReply);
  EXPECT_TRUE(std::equal(ip.payload.begin(), ip.payload.end(), kFrameIcmpv6EchoReply.begin() + 54));
}

TEST_F(IfaceTest, HandsTcpToTheHookWithItsFourTuple) {
  int calls = 0;
  iface_.set_tcp_handler([&](Instant, const FourTuple& t, const TcpRepr& seg) {
    ++calls;
    EXPECT_TRUE(seg.has(kTcpSyn));
    if (!t.local.addr.is_v4()) {
      EXPECT_EQ(t.local, (Endpoint{Db8(2), 8081}));
      EXPECT_EQ(t.remote, (Endpoint{Db8(1), 58806}));
      return;
    }
    EXPECT_EQ(t.local.addr, IpAddress::V4(198, 18, 0, 2));
    EXPECT_EQ(t.local.port, 8080);
    EXPECT_EQ(t.remote.addr, IpAddress::V4(198, 18, 0, 1));
    EXPECT_EQ(t.remote.port, 49486);
    EXPECT_EQ(seg.mss, 1460);
  });
  Exchange(kFrameTcpSynV4);
  Exchange(kFrameTcpSynV6);  // to 2001:db8::2:8081, also ours
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(iface_.counters().tcp_in, 2u);
}

TEST_F(IfaceTest, TcpWithoutHandlerIsCounted) {
  Exchange(kFrameTcpSynV4);
  EXPECT_EQ(iface_.drops(IfaceDrop::kTcpNoHandler), 1u);
}

TEST_F(IfaceTest, BadChecksumsAreDroppedUnlessTheDeviceVerified) {
  auto bad = kFrameTcpDataV4;
  bad.back() ^= 1;  // payload byte: only the TCP checksum breaks
  int calls = 0;
  iface_.set_tcp_handler([&](Instant, const FourTuple&, const TcpRepr&) { ++calls; });
  auto to_us = [](std::vector<std::uint8_t> f) {
    // The data segment went .2 -> .1; turn it around so it is addressed to us.
    std::swap_ranges(f.begin() + 26, f.begin() + 30, f.begin() + 30);
    std::swap_ranges(f.begin(), f.begin() + 6, f.begin() + 6);
    return f;
  };
  Exchange(to_us(bad));
  EXPECT_EQ(iface_.drops(IfaceDrop::kTcpBadChecksum), 1u);
  EXPECT_EQ(calls, 0);
  auto bad_ip = kFrameIcmpEchoRequest;
  bad_ip[14 + 8] = 1;  // TTL, under the header checksum
  Exchange(bad_ip);
  EXPECT_EQ(iface_.drops(IfaceDrop::kIpv4BadChecksum), 1u);

  MemoryLink::Options o = Options();
  o.caps.rx_checksum_verified = true;
  MemoryLink trusted(o);
  Interface iface(trusted.b(), Config());
  iface.set_tcp_handler([&](Instant, const FourTuple&, const TcpRepr&) { ++calls; });
  trusted.a().Transmit(Instant{}, to_us(bad));
  iface.Poll(Instant{});
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(iface.drops(IfaceDrop::kTcpBadChecksum), 0u);
}

TEST_F(IfaceTest, ForeignAndOddFramesAreCounted) {
  auto other_mac = kFrameIcmpEchoRequest;
  other_mac[5] = 0x0c;
  Exchange(other_mac);
  EXPECT_EQ(iface_.drops(IfaceDrop::kEthernetNotForUs), 1u);
  auto vlan = kFrameIcmpEchoRequest;
  vlan[12] = 0x81;
  vlan[13] = 0x00;
  Exchange(vlan);
  EXPECT_EQ(iface_.drops(IfaceDrop::kEthernetUnknownType), 1u);
  auto frag = kFrameIcmpEchoRequest;
  frag[14 + 6] = 0x20;  // MF, DF cleared: fix the header checksum by hand
  frag[14 + 10] = 0;
  frag[14 + 11] = 0;
  Ipv4Repr ip;
  ASSERT_EQ(Ipv4Repr::Parse(std::span(frag).subspan(14), ChecksumCheck::kSkip, &ip), WireError::kOk);
  ip.dont_fragment = false;
  ip.Emit(std::span(frag).subspan(14));
  frag[14 + 6] |= 0x20;
  frag[14 + 10] = 0;
  frag[14 + 11] = 0;
  const std::uint16_t sum = Finish(Sum(std::span(frag).subspan(14, 20)));
  frag[14 + 10] = static_cast<std::uint8_t>(sum >> 8);
  frag[14 + 11] = static_cast<std::uint8_t>(sum);
  EXPECT_TRUE(Exchange(frag).empty());
  EXPECT_EQ(iface_.drops(IfaceDrop::kIpv4Fragment), 1u);
  EXPECT_STREQ(IfaceDropName(IfaceDrop::kIpv4Fragment), "ipv4_fragment");
}

TcpRepr Syn() {
  TcpRepr s;
  s.seq = 1000;
  s.flags = kTcpSyn;
  s.window = 65535;
  s.mss = 1460;
  return s;
}

TEST_F(IfaceTest, SendTcpResolvesWithArpThenSends) {
  const FourTuple t{{IpAddress::V4(198, 18, 0, 2), 40000}, {IpAddress::V4(198, 18, 0, 1), 80}};
  iface_.Poll(Instant{});
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kQueued);
  auto out = Collect(Instant{});
  ASSERT_EQ(out.size(), 1u);  // the ARP request
  ArpRepr req;
  ASSERT_EQ(ArpRepr::Parse(std::span(out[0]).subspan(14), &req), WireError::kOk);
  EXPECT_EQ(req.operation, kArpRequest);
  EXPECT_EQ(req.target_ip, IpAddress::V4(198, 18, 0, 1));
  EXPECT_EQ(req.sender_ip, IpAddress::V4(198, 18, 0, 2));
  // Linux answers (the captured reply, turned around).
  ArpRepr reply{kArpReply, kLinuxMac, IpAddress::V4(198, 18, 0, 1), kOurMac, IpAddress::V4(198, 18, 0, 2)};
  std::vector<std::uint8_t> f(42);
  EthernetRepr{kOurMac, kLinuxMac, kEtherTypeArp, {}}.Emit(f);
  reply.Emit(std::span(f).subspan(14));
  out = Exchange(f);
  ASSERT_EQ(out.size(), 1u);  // the queued SYN
  Ipv4Repr ip;
  ASSERT_EQ(Ipv4Repr::Parse(std::span(out[0]).subspan(14), ChecksumCheck::kVerify, &ip), WireError::kOk);
  TcpRepr seg;
  ASSERT_EQ(ParseTcp(ip.payload, ip.src, ip.dst, ChecksumCheck::kVerify, &seg), WireError::kOk);
  EXPECT_EQ(seg.src_port, 40000);
  EXPECT_EQ(seg.dst_port, 80);
  EXPECT_EQ(seg.mss, 1460);
  // Now resolved: straight out.
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kSent);
  EXPECT_EQ(iface_.counters().tcp_out, 2u);
}

TEST_F(IfaceTest, SendTcpResolvesWithNeighborDiscovery) {
  const FourTuple t{{Db8(2), 40000}, {Db8(1), 80}};
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kQueued);
  auto out = Collect(Instant{});
  ASSERT_EQ(out.size(), 1u);
  Ipv6Repr ip;
  ASSERT_EQ(Ipv6Repr::Parse(std::span(out[0]).subspan(14), &ip), WireError::kOk);
  EXPECT_EQ(ip.dst, SolicitedNodeMulticast(Db8(1)));
  EXPECT_EQ(ip.hop_limit, 255);
  Icmpv6Repr ns;
  ASSERT_EQ(Icmpv6Repr::Parse(ip.payload, ip.src, ip.dst, ChecksumCheck::kVerify, &ns), WireError::kOk);
  EXPECT_EQ(ns.type, kIcmpv6NeighborSolicit);
  EXPECT_EQ(ns.target, Db8(1));
  EXPECT_EQ(ns.lladdr, kOurMac);
  // Linux's NA for 2001:db8::1, built with the codec.
  Icmpv6Repr na;
  na.type = kIcmpv6NeighborAdvert;
  na.target = Db8(1);
  na.solicited = na.override_flag = true;
  na.lladdr = kLinuxMac;
  std::vector<std::uint8_t> f(14 + 40 + na.BufferLen());
  EthernetRepr{kOurMac, kLinuxMac, kEtherTypeIpv6, {}}.Emit(f);
  Ipv6Repr nip;
  nip.src = Db8(1);
  nip.dst = Db8(2);
  nip.next_header = kIpProtoIcmpv6;
  nip.hop_limit = 255;
  nip.payload_len = static_cast<std::uint16_t>(na.BufferLen());
  nip.Emit(std::span(f).subspan(14));
  na.Emit(nip.src, nip.dst, std::span(f).subspan(54));
  out = Exchange(f);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(Ipv6Repr::Parse(std::span(out[0]).subspan(14), &ip), WireError::kOk);
  EXPECT_EQ(ip.next_header, kIpProtoTcp);
  TcpRepr seg;
  EXPECT_EQ(ParseTcp(ip.payload, ip.src, ip.dst, ChecksumCheck::kVerify, &seg), WireError::kOk);
}

TEST_F(IfaceTest, UnansweredResolutionRetriesThenDrops) {
  const FourTuple t{{IpAddress::V4(198, 18, 0, 2), 1}, {IpAddress::V4(198, 18, 0, 7), 2}};
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kQueued);
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kQueued);
  EXPECT_EQ(Collect(Instant{}).size(), 1u);  // one probe for both
  ASSERT_TRUE(iface_.NextDeadline());
  EXPECT_EQ(*iface_.NextDeadline(), Instant::FromMillis(1000));
  iface_.Poll(Instant::FromMillis(1000));
  iface_.Poll(Instant::FromMillis(2000));
  EXPECT_EQ(Collect(Instant::FromMillis(2000)).size(), 2u);  // probes 2 and 3
  iface_.Poll(Instant::FromMillis(3000));
  EXPECT_EQ(iface_.drops(IfaceDrop::kTxUnresolved), 2u);
  EXPECT_FALSE(iface_.NextDeadline());
}

TEST_F(IfaceTest, OffLinkNeedsAGateway) {
  const FourTuple t{{IpAddress::V4(198, 18, 0, 2), 1}, {IpAddress::V4(198, 19, 0, 1), 2}};
  EXPECT_EQ(iface_.SendTcp(t, Syn()), SendResult::kDropped);
  EXPECT_EQ(iface_.drops(IfaceDrop::kTxNoRoute), 1u);
}

TEST(IfaceCidr, Contains) {
  const IpCidr v4{IpAddress::V4(198, 18, 0, 2), 15};
  EXPECT_TRUE(v4.Contains(IpAddress::V4(198, 19, 255, 1)));
  EXPECT_FALSE(v4.Contains(IpAddress::V4(198, 20, 0, 1)));
  EXPECT_FALSE(v4.Contains(Db8(1)));
  const IpCidr v6{Db8(2), 64};
  EXPECT_TRUE(v6.Contains(Db8(99)));
  EXPECT_TRUE((IpCidr{IpAddress::V4(1, 2, 3, 4), 0}.Contains(IpAddress::V4(9, 9, 9, 9))));
}

}  // namespace
}  // namespace braid::ustack
