// Tail loss probes (RFC 8985 7) on the simulated link: a lost tail of a transfer is repaired by a
// probe about 2*SRTT after the last segment instead of by the retransmission timeout, whose
// minimum (200 ms) dwarfs the round trip. Each case runs with the switch on and off: off, the same
// loss costs a timeout, which is what makes the probe's effect visible.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <vector>

#include "ustack/tcp/seq.h"
#include "ustack/tests/tcp_sim.h"

namespace braid::ustack {
namespace {

using sim::Net;

constexpr std::uint16_t kPort = 8080;

struct TransferRun {
  std::vector<sim::WireRecord> log;
  std::uint64_t probes = 0;
  std::uint64_t probe_recoveries = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t fast_recoveries = 0;
  bool delivered = false;
  Instant last_original{};  // when A first sent the transfer's last byte
  Instant done{};           // when B held every byte
};

// A sends `segments` full segments to B in one write over a 5 ms link; `drop` sees A's data
// segments with their offset from the first byte (and whether that range was sent before).
TransferRun Transfer(bool tlp, std::uint32_t segments,
             const std::function<bool(std::uint32_t offset, std::uint32_t len, bool resent)>& drop) {
  TcpConfig cfg = sim::SimConfig();
  cfg.tail_loss_probe = tlp;
  Net net(cfg, cfg);
  net.keep_log = true;
  SocketId listener = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId client = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId server = kNoSocket;
  net.RunUntil([&] {
    if (server == kNoSocket) server = net.b().Accept(listener);
    return server != kNoSocket && net.a().Get(client)->state() == TcpState::kEstablished;
  });
  net.RunFor(Duration::Millis(50));
  TcpConnection* a = net.a().Get(client);
  const std::uint32_t base = a->snd_nxt();
  const std::uint32_t total = segments * a->smss();
  std::set<std::uint32_t> seen;
  TransferRun run;
  net.drop = [&](int from, const TcpRepr& r) {
    if (from != Net::kA || r.payload.empty()) return false;
    const std::uint32_t off = r.seq - base;
    const auto len = static_cast<std::uint32_t>(r.payload.size());
    const bool resent = !seen.insert(off).second;
    if (!resent && off + len == total) run.last_original = net.now();
    return drop(off, len, resent);
  };
  std::vector<std::uint8_t> data = sim::RandomBytes(7, total);
  EXPECT_EQ(a->Send(data).bytes, data.size());
  std::vector<std::uint8_t> got;
  net.app = [&] {
    std::array<std::uint8_t, 16384> buf;
    for (IoResult r = net.b().Get(server)->Recv(buf); r.bytes > 0; r = net.b().Get(server)->Recv(buf)) {
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
  };
  run.delivered = net.RunUntil([&] { return got.size() == data.size(); }, Duration::Millis(10000)) && got == data;
  run.done = net.now();
  net.RunFor(Duration::Millis(100));  // the last ACKs land
  run.log = net.log;
  const TcpCounters& c = net.a().counters();
  run.probes = c.Get(TcpCounter::kLossProbes);
  run.probe_recoveries = c.Get(TcpCounter::kLossProbeRecovery);
  run.timeouts = c.Get(TcpCounter::kTimeouts);
  run.fast_recoveries = c.Get(TcpCounter::kFastRecoveries);
  return run;
}

// Drops the first transmission of the last `n` segments of a transfer of `segments`.
auto DropTail(std::uint32_t segments, std::uint32_t n, std::uint32_t smss) {
  return [=](std::uint32_t off, std::uint32_t, bool resent) { return !resent && off >= (segments - n) * smss; };
}

constexpr std::uint32_t kSmss = 1460 - 12;  // SimConfig's MSS less the timestamp option

class TailLoss : public ::testing::TestWithParam<std::uint32_t> {};

// The last 1, 2 or 3 segments of a 20-segment transfer are lost (no SACK can tell, nothing follows
// them). With TLP the probe (a retransmission of the last segment) comes back SACKed or ACKed and
// repairs the rest by fast recovery; without it the timeout does (and collapses cwnd to 1 MSS).
TEST_P(TailLoss, IsRepairedByAProbeInsteadOfATimeout) {
  const std::uint32_t n = GetParam();
  TransferRun on = Transfer(true, 20, DropTail(20, n, kSmss));
  ASSERT_TRUE(on.delivered);
  EXPECT_EQ(on.timeouts, 0u);
  EXPECT_EQ(on.probes, 1u);
  // One lost segment: the probe itself is the repair; more: the probe's SACK starts fast recovery.
  EXPECT_EQ(on.fast_recoveries, n == 1 ? 0u : 1u);

  TransferRun off = Transfer(false, 20, DropTail(20, n, kSmss));
  ASSERT_TRUE(off.delivered);
  EXPECT_EQ(off.timeouts, 1u);
  EXPECT_EQ(off.probes, 0u);
  EXPECT_GE((off.done - off.last_original).micros, Duration::Millis(200).micros);
  if (n == 1) {
    // One segment left in flight: the PTO adds the worst-case delayed ACK (RFC 8985 7.2, 200 ms)
    // and the RTO caps it, so the probe leaves when the timeout would have: no time is won, only
    // the timeout's window collapse and go-back-N are avoided.
    EXPECT_LE((on.done - on.last_original).micros, (off.done - off.last_original).micros);
  } else {
    // Repaired within a few round trips (10 ms here), well inside the 200 ms minimum RTO.
    EXPECT_LT((on.done - on.last_original).micros, Duration::Millis(100).micros);
  }
}

INSTANTIATE_TEST_SUITE_P(Tcp, TailLoss, ::testing::Values(1u, 2u, 3u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& i) {
                           return "Last" + std::to_string(i.param);
                         });

// The probe is a retransmission of the last segment, sent 2*SRTT (+2 ms) after the last ACK: SRTT
// is 10 ms on this link, so it leaves about 22 ms after that ACK.
TEST(TcpTlp, ProbeRetransmitsTheLastSegmentAboutTwoRoundTripsLater) {
  TransferRun on = Transfer(true, 20, DropTail(20, 2, kSmss));
  ASSERT_TRUE(on.delivered);
  std::vector<const sim::WireRecord*> resent;
  std::set<std::uint32_t> seen;
  for (const auto& w : on.log) {
    if (w.from != Net::kA || w.payload_len == 0) continue;
    if (!seen.insert(w.repr.seq).second) resent.push_back(&w);
  }
  ASSERT_EQ(resent.size(), 2u);  // the probe, then the fast retransmission
  EXPECT_EQ(resent[0]->payload_len, kSmss);
  EXPECT_EQ(resent[0]->repr.seq, resent[1]->repr.seq + kSmss);  // the last segment first
  std::optional<Instant> last_ack;
  for (const auto& w : on.log) {
    if (w.from == Net::kB && w.at < resent[0]->at) last_ack = w.at;
  }
  ASSERT_TRUE(last_ack.has_value());
  // B's last ACK reaches A 5 ms after B sent it; the PTO starts there.
  EXPECT_EQ((resent[0]->at - *last_ack).micros, Duration::Millis(5 + 22).micros);
}

// A whole flight is lost while more data waits behind the congestion window: the probe is the next
// new segment (RFC 8985 7.3), whose SACK marks the flight lost (RFC 8985 6.2) for fast recovery.
TEST(TcpTlp, ProbeSendsNewDataWhenThereIsSome) {
  // The initial window is ten segments: drop exactly the first flight.
  auto first_flight = [](std::uint32_t off, std::uint32_t, bool resent) { return !resent && off < 10 * kSmss; };
  TransferRun on = Transfer(true, 40, first_flight);
  ASSERT_TRUE(on.delivered);
  EXPECT_EQ(on.timeouts, 0u);
  EXPECT_EQ(on.probes, 1u);
  EXPECT_EQ(on.fast_recoveries, 1u);
  // The first segment A sent after the flight is new data (offset 10 segments), not a retransmission.
  std::set<std::uint32_t> seen;
  std::optional<std::uint32_t> first_after_flight;
  for (const auto& w : on.log) {
    if (w.from != Net::kA || w.payload_len == 0) continue;
    if (seen.size() == 10 && !first_after_flight) first_after_flight = w.repr.seq;
    seen.insert(w.repr.seq);
  }
  ASSERT_TRUE(first_after_flight.has_value());
  EXPECT_EQ(seen.size(), 40u);

  TransferRun off = Transfer(false, 40, first_flight);
  ASSERT_TRUE(off.delivered);
  EXPECT_EQ(off.timeouts, 1u);
}

// A probe whose original was merely late (the probe and the original both arrive) is not a loss;
// one that repaired the loss is counted once the ACK passes it (RFC 8985 7.4). Here: the last
// segment's first copy is lost, the probe repairs it; a later write is ACKed beyond the probe.
TEST(TcpTlp, RepairedSingleLossIsCountedOnceAcknowledgedBeyondTheProbe) {
  TcpConfig cfg = sim::SimConfig();
  Net net(cfg, cfg);
  SocketId listener = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId client = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId server = kNoSocket;
  net.RunUntil([&] {
    if (server == kNoSocket) server = net.b().Accept(listener);
    return server != kNoSocket && net.a().Get(client)->state() == TcpState::kEstablished;
  });
  net.RunFor(Duration::Millis(50));
  TcpConnection* a = net.a().Get(client);
  const std::uint32_t last = a->snd_nxt() + 4 * a->smss();
  bool dropped = false;
  net.drop = [&](int from, const TcpRepr& r) {
    if (from != Net::kA || r.seq != last || dropped) return false;
    dropped = true;
    return true;
  };
  std::vector<std::uint8_t> data = sim::RandomBytes(3, 5 * a->smss());
  ASSERT_EQ(a->Send(data).bytes, data.size());
  net.RunFor(Duration::Millis(400));  // one segment left: PTO = min(2*SRTT + 200 ms, RTO)
  ASSERT_TRUE(dropped);
  EXPECT_EQ(a->snd_una(), a->snd_nxt());
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kLossProbes), 1u);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kLossProbeRecovery), 0u);  // ACK == TLP.end_seq: open
  const std::uint32_t cwnd_before = a->congestion().cwnd();
  ASSERT_EQ(a->Send(data).bytes, data.size());
  net.RunFor(Duration::Millis(400));
  EXPECT_EQ(a->snd_una(), a->snd_nxt());
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kLossProbeRecovery), 1u);
  EXPECT_LT(a->congestion().cwnd(), cwnd_before + 5 * a->smss());  // reduced, then grown by the ACKs
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kTimeouts), 0u);
}

// When the probe is lost too, the RTO (re-armed when the probe left) repairs: one probe, then the
// timeouts back off as before (RFC 8985 7.3: the RTO stays the last resort).
TEST(TcpTlp, OneProbeThenTheTimeoutsWhenThePathIsCut) {
  TcpConfig cfg = sim::SimConfig();
  cfg.max_retransmits = 3;
  Net net(cfg, sim::SimConfig());
  net.keep_log = true;
  SocketId listener = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId client = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), kPort}).id;
  SocketId server = kNoSocket;
  net.RunUntil([&] {
    if (server == kNoSocket) server = net.b().Accept(listener);
    return server != kNoSocket && net.a().Get(client)->state() == TcpState::kEstablished;
  });
  net.RunFor(Duration::Millis(50));
  TcpConnection* a = net.a().Get(client);
  const Duration rto = a->rtt().rto();
  net.drop = [](int from, const TcpRepr&) { return from == Net::kA; };
  std::vector<std::uint8_t> data(3 * a->smss(), 0x5a);
  ASSERT_EQ(a->Send(data).bytes, data.size());
  const std::size_t first = net.log.size();
  ASSERT_TRUE(net.RunUntil([&] { return a->state() == TcpState::kClosed; }));
  EXPECT_EQ(a->error(), TcpError::kTimedOut);
  std::vector<std::int64_t> resends;
  for (std::size_t i = first + 3; i < net.log.size(); ++i) {
    if (net.log[i].from == Net::kA && net.log[i].payload_len > 0) resends.push_back(net.log[i].at.micros);
  }
  ASSERT_EQ(resends.size(), 4u);  // the probe and three timeouts' retransmissions
  EXPECT_LT(resends[0] - net.log[first].at.micros, rto.micros);
  EXPECT_EQ(resends[1] - resends[0], rto.micros);  // the RTO counts from the probe
  EXPECT_EQ(resends[2] - resends[1], 2 * rto.micros);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kLossProbes), 1u);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kTimeouts), 4u);
}

// Nothing lost, nothing probed: on a clean link (rate-limited, so queues build and the RTT
// varies) the receiver's ACKs always beat the PTO.
TEST(TcpTlp, NoProbeOnACleanPath) {
  TcpConfig cfg = sim::SimConfig();
  sim::LinkConfig link;
  link.rate_bytes_per_sec = 5'000'000;
  Net net(cfg, cfg, link);
  SocketId listener = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort}).id;
  OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), kPort});
  sim::Peer pa{c.id, sim::RandomBytes(1, 1'000'000)};
  sim::Peer pb{kNoSocket, sim::RandomBytes(2, 300'000)};
  net.app = [&] {
    if (pb.id == kNoSocket) pb.id = net.b().Accept(listener);
    pa.Pump(net.a());
    if (pb.id != kNoSocket) pb.Pump(net.b());
  };
  ASSERT_TRUE(net.RunUntil([&] { return pa.done() && pb.done(); }));
  EXPECT_EQ(pb.received, pa.to_send);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kLossProbes), 0u);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kLossProbes), 0u);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kRetransSegs), 0u);
}

}  // namespace
}  // namespace braid::ustack
