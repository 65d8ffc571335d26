// The MPTCP connection level (Msk) driven by hand: mappings out, DATA_ACKs in, the shared window,
// reinjection after a subflow failure, DATA_FIN on data and alone, receive through mappings.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "ustack/mptcp/msk.h"

namespace braid::ustack::mptcp {
namespace {

constexpr std::uint64_t kLocalIdsn = 0x1000;
constexpr std::uint64_t kRemoteIdsn = 0xffffffff00ull;

std::vector<std::uint8_t> Bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), std::uint8_t{0});
  return v;
}

SubflowParams Up(std::uint32_t space, std::int64_t rtt_ms = 10, bool backup = false) {
  return SubflowParams{.established = true, .backup = backup, .srtt = Duration::Millis(rtt_ms), .send_space = space};
}

MskConfig SmallConfig() {
  MskConfig c;
  c.max_mapping = 1000;
  c.initial_peer_window = 100000;
  return c;
}

TEST(MptcpConnMskSend, CutsMappingsBySpaceAndMappingSize) {
  Msk m(SmallConfig(), kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(2500));
  auto data = Bytes(4000);
  ASSERT_EQ(m.Send(data), 4000u);
  auto tx = m.PollTransmit(Instant{});
  ASSERT_EQ(tx.size(), 3u);
  EXPECT_EQ(tx[0].mapping.dsn, kLocalIdsn + 1);
  EXPECT_EQ(tx[0].mapping.ssn, 1u);
  EXPECT_EQ(tx[0].mapping.length, 1000u);
  EXPECT_EQ(tx[1].mapping.ssn, 1001u);
  EXPECT_EQ(tx[2].mapping.length, 500u);  // the subflow's room ran out
  EXPECT_EQ(tx[2].data.size(), 500u);
  EXPECT_EQ(tx[2].data[0], data[2000]);
  EXPECT_TRUE(m.PollTransmit(Instant{}).empty());
  m.UpdateSubflow(1, Up(10000));
  tx = m.PollTransmit(Instant{});
  ASSERT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx[0].mapping.dsn, kLocalIdsn + 1 + 2500);
  EXPECT_EQ(tx[0].mapping.ssn, 2501u);
  EXPECT_EQ(m.snd_nxt(), kLocalIdsn + 1 + 4000);
  ASSERT_NE(m.MappingForSegment(1, 2600), nullptr);
  EXPECT_EQ(m.MappingForSegment(1, 2600)->ssn, 2501u);
}

TEST(MptcpConnMskSend, HonoursThePeersSharedWindowWhoseEdgeNeverMovesLeft) {
  MskConfig c = SmallConfig();
  c.initial_peer_window = 1500;
  Msk m(c, kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(100000));
  m.AddSubflow(2, Up(100000, 20));
  m.Send(Bytes(5000));
  auto tx = m.PollTransmit(Instant{});
  std::size_t sent = 0;
  for (const auto& t : tx) sent += t.mapping.length;
  EXPECT_EQ(sent, 1500u);
  // Window 2000 from DATA_ACK 1000: right edge 3000.
  m.OnDataAck(2, DataAck{kLocalIdsn + 1 + 1000}, 2000);
  EXPECT_EQ(m.wnd_end(), kLocalIdsn + 1 + 3000);
  // An older segment with a smaller window does not pull the edge back.
  m.OnDataAck(1, DataAck{kLocalIdsn + 1 + 500}, 100);
  EXPECT_EQ(m.wnd_end(), kLocalIdsn + 1 + 3000);
  EXPECT_EQ(m.snd_una(), kLocalIdsn + 1 + 1000);
  tx = m.PollTransmit(Instant{});
  sent = 0;
  for (const auto& t : tx) sent += t.mapping.length;
  EXPECT_EQ(sent, 1500u);
  // A DATA_ACK beyond anything sent moves nothing.
  m.OnDataAck(1, DataAck{kLocalIdsn + 1 + 4000}, 0);
  EXPECT_EQ(m.snd_una(), kLocalIdsn + 1 + 1000);
  EXPECT_EQ(m.counters().data_ack_unsent, 1u);
}

TEST(MptcpConnMskSend, DataAckFreesTheSendBuffer) {
  MskConfig c = SmallConfig();
  c.send_buffer = 3000;
  Msk m(c, kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(100000));
  EXPECT_EQ(m.Send(Bytes(5000)), 3000u);
  EXPECT_EQ(m.send_free(), 0u);
  m.PollTransmit(Instant{});
  m.OnDataAck(1, DataAck{kLocalIdsn + 1 + 1200}, 100000);
  EXPECT_EQ(m.send_free(), 1200u);
  // Mappings go once both the subflow and the connection acknowledged them.
  m.OnSubflowAcked(1, 1 + 3000);
  EXPECT_EQ(m.MappingForSegment(1, 1), nullptr);
  EXPECT_NE(m.MappingForSegment(1, 2500), nullptr);
}

TEST(MptcpConnMskSend, ExpandsIncoming32BitValuesAgainstItsOwnState) {
  Msk m(SmallConfig(), 0xfffffff0ull, kRemoteIdsn);
  EXPECT_EQ(m.ExpandIncomingDataAck(0x10u), 0x100000010ull);
  EXPECT_EQ(m.ExpandIncomingDsn(0x00000005u), 0x10000000005ull);
}

TEST(MptcpConnMskSend, ReinjectsTheDataOfAFailedSubflowOnAnother) {
  Msk m(SmallConfig(), kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(3000, 5));
  m.AddSubflow(2, Up(0, 50));
  m.Send(Bytes(3000));
  auto tx = m.PollTransmit(Instant{});
  ASSERT_EQ(tx.size(), 3u);
  for (const auto& t : tx) EXPECT_EQ(t.subflow, 1u);
  m.OnDataAck(1, DataAck{kLocalIdsn + 1 + 1000}, 100000);
  m.SubflowFailed(1);
  m.UpdateSubflow(2, Up(100000, 50));
  tx = m.PollTransmit(Instant{});
  std::uint64_t next = kLocalIdsn + 1 + 1000;
  for (const auto& t : tx) {
    EXPECT_EQ(t.subflow, 2u);
    EXPECT_TRUE(t.reinjection);
    EXPECT_EQ(t.mapping.dsn, next);
    next += t.mapping.length;
  }
  EXPECT_EQ(next, kLocalIdsn + 1 + 3000);  // only what was not DATA_ACKed
  EXPECT_EQ(m.counters().tx_reinjected_bytes, 2000u);
}

TEST(MptcpConnMskSend, DataFinRidesTheLastMappingAndRepeatsUntilAcked) {
  MskConfig c = SmallConfig();
  c.data_fin_rto = Duration::Millis(100);
  Msk m(c, kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(100000));
  m.Send(Bytes(1500));
  m.Shutdown();
  EXPECT_EQ(m.Send(Bytes(10)), 0u);
  auto tx = m.PollTransmit(Instant::FromMillis(0));
  ASSERT_EQ(tx.size(), 2u);
  EXPECT_FALSE(tx[0].mapping.data_fin);
  EXPECT_TRUE(tx[1].mapping.data_fin);
  EXPECT_EQ(m.PollAt(), Instant::FromMillis(100));
  EXPECT_TRUE(m.PollTransmit(Instant::FromMillis(50)).empty());
  tx = m.PollTransmit(Instant::FromMillis(100));
  ASSERT_EQ(tx.size(), 1u);  // alone this time
  EXPECT_EQ(tx[0].mapping.length, 0u);
  EXPECT_EQ(tx[0].mapping.dsn, kLocalIdsn + 1 + 1500);
  EXPECT_EQ(m.PollAt(), Instant::FromMillis(300));  // backed off
  m.OnDataAck(1, DataAck{kLocalIdsn + 1 + 1500 + 1}, 100000);
  EXPECT_TRUE(m.send_done());
  EXPECT_EQ(m.PollAt().micros, INT64_MAX);
}

TEST(MptcpConnMskSend, DataFinAloneWhenShutdownFollowsTheData) {
  Msk m(SmallConfig(), kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(100000));
  m.Send(Bytes(100));
  ASSERT_EQ(m.PollTransmit(Instant{}).size(), 1u);
  m.Shutdown();
  auto tx = m.PollTransmit(Instant{});
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_TRUE(tx[0].mapping.data_fin);
  EXPECT_EQ(tx[0].mapping.length, 0u);
  EXPECT_EQ(tx[0].mapping.ssn, 0u);
  EXPECT_TRUE(tx[0].data.empty());
}

TEST(MptcpConnMskRecv, DeliversBytesThroughMappingsFromTwoSubflows) {
  Msk m(SmallConfig(), kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(0));
  m.AddSubflow(2, Up(0));
  auto data = Bytes(300);
  const std::uint64_t d0 = kRemoteIdsn + 1;
  std::span<const std::uint8_t> all(data);
  // Subflow 2 carries DSN +100..+300 and arrives first; subflow 1 carries +0..+100.
  EXPECT_EQ(m.OnMapping(2, {.dsn = d0 + 100, .ssn = 1, .length = 200, .data_fin = true}), MappingStatus::kOk);
  EXPECT_EQ(m.OnSubflowData(2, all.subspan(100, 200)), 200u);
  EXPECT_EQ(m.readable(), 0u);
  EXPECT_EQ(m.receive_window(), SmallConfig().recv_buffer);
  // Unmapped bytes wait.
  EXPECT_EQ(m.OnSubflowData(1, all.subspan(0, 100)), 0u);
  EXPECT_EQ(m.OnMapping(1, {.dsn = d0, .ssn = 1, .length = 100}), MappingStatus::kOk);
  EXPECT_EQ(m.OnSubflowData(1, all.subspan(0, 100)), 100u);
  EXPECT_EQ(m.data_ack().ack, d0 + 301);  // the DATA_FIN is acknowledged too
  std::vector<std::uint8_t> out(400);
  ASSERT_EQ(m.Recv(out), 300u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
  EXPECT_TRUE(m.eof());
}

TEST(MptcpConnMskRecv, CountsRejectedMappingsAndDuplicates) {
  Msk m(SmallConfig(), kLocalIdsn, kRemoteIdsn);
  m.AddSubflow(1, Up(0));
  m.AddSubflow(2, Up(0));
  auto data = Bytes(100);
  const std::uint64_t d0 = kRemoteIdsn + 1;
  m.OnMapping(1, {.dsn = d0, .ssn = 1, .length = 100});
  EXPECT_EQ(m.OnMapping(1, {.dsn = d0 + 7, .ssn = 1, .length = 100}), MappingStatus::kMismatch);
  EXPECT_EQ(m.counters().mappings_rejected, 1u);
  m.OnSubflowData(1, data);
  m.OnMapping(2, {.dsn = d0, .ssn = 1, .length = 100});  // a reinjected copy
  m.OnSubflowData(2, data);
  EXPECT_EQ(m.counters().rx_fresh_bytes, 100u);
  EXPECT_EQ(m.counters().rx_duplicate_bytes, 100u);
  EXPECT_EQ(m.readable(), 100u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
