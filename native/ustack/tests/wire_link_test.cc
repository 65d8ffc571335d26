// Ethernet and ARP round trips on captured frames.
#include <gtest/gtest.h>

#include <vector>

#include "captured_frames.h"
#include "ustack/wire/arp.h"
#include "ustack/wire/ethernet.h"

namespace braid::ustack::wire {
namespace {

using namespace braid::ustack::testing;

const MacAddress kMacA{0x02, 0, 0, 0, 0, 0x0a};
const MacAddress kMacB{0x02, 0, 0, 0, 0, 0x0b};

TEST(WireEthernet, ParsesAndEmitsCapturedHeader) {
  EthernetRepr eth;
  ASSERT_EQ(EthernetRepr::Parse(kFrameArpRequest, &eth), WireError::kOk);
  EXPECT_EQ(eth.dst, kBroadcastMac);
  EXPECT_EQ(eth.src, kMacA);
  EXPECT_EQ(eth.ethertype, kEtherTypeArp);
  EXPECT_EQ(eth.payload.size(), 28u);
  std::vector<std::uint8_t> out(14);
  ASSERT_EQ(eth.Emit(out), WireError::kOk);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kFrameArpRequest.begin()));
}

TEST(WireEthernet, RejectsShortFrame) {
  EthernetRepr eth;
  EXPECT_EQ(EthernetRepr::Parse(std::span(kFrameArpRequest).first(13), &eth), WireError::kTruncated);
  std::vector<std::uint8_t> out(13);
  EXPECT_EQ(eth.Emit(out), WireError::kBufferTooSmall);
}

TEST(WireArp, RequestAndReplyRoundTrip) {
  for (const auto* frame : {&kFrameArpRequest, &kFrameArpReply}) {
    EthernetRepr eth;
    ASSERT_EQ(EthernetRepr::Parse(*frame, &eth), WireError::kOk);
    ArpRepr arp;
    ASSERT_EQ(ArpRepr::Parse(eth.payload, &arp), WireError::kOk);
    std::vector<std::uint8_t> out(ArpRepr::BufferLen());
    ASSERT_EQ(arp.Emit(out), WireError::kOk);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), eth.payload.begin()));
  }
  ArpRepr reply;
  ASSERT_EQ(ArpRepr::Parse(std::span(kFrameArpReply).subspan(14), &reply), WireError::kOk);
  EXPECT_EQ(reply.operation, kArpReply);
  EXPECT_EQ(reply.sender_mac, kMacB);
  EXPECT_EQ(reply.sender_ip, IpAddress::V4(198, 18, 0, 2));
  EXPECT_EQ(reply.target_mac, kMacA);
  EXPECT_EQ(reply.target_ip, IpAddress::V4(198, 18, 0, 1));
}

TEST(WireArp, RejectsOtherHardwareAndShortPackets) {
  std::vector<std::uint8_t> b(kFrameArpRequest.begin() + 14, kFrameArpRequest.end());
  ArpRepr arp;
  EXPECT_EQ(ArpRepr::Parse(std::span(b).first(27), &arp), WireError::kTruncated);
  b[1] = 6;  // IEEE 802 hardware type
  EXPECT_EQ(ArpRepr::Parse(b, &arp), WireError::kUnsupported);
}

}  // namespace
}  // namespace braid::ustack::wire
