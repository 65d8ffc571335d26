// Two stacks on the simulated link: handshakes, transfers under loss, windows, closes, timeouts.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "ustack/tcp/seq.h"
#include "ustack/tests/tcp_sim.h"

namespace braid::ustack {

namespace {

using sim::Net;
using sim::Peer;

constexpr std::uint16_t kPort = 8080;

Endpoint ServerEndpoint() { return Endpoint{Net::addr(Net::kB), kPort}; }

// Where two byte streams first differ, for a readable failure instead of a megabyte dump.
::testing::AssertionResult SameBytes(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want) {
  std::size_t n = std::min(got.size(), want.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) return ::testing::AssertionFailure() << "first difference at byte " << i;
  }
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size();
  }
  return ::testing::AssertionSuccess();
}

struct Established {
  SocketId listener = kNoSocket;
  SocketId client = kNoSocket;
  SocketId server = kNoSocket;
};

Established Handshake(Net& net) {
  Established e;
  e.listener = net.b().Listen(ServerEndpoint()).id;
  e.client = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint()).id;
  net.RunUntil(
      [&] {
        if (e.server == kNoSocket) e.server = net.b().Accept(e.listener);
        TcpConnection* c = net.a().Get(e.client);
        return e.server != kNoSocket && c != nullptr && c->state() == TcpState::kEstablished;
      },
      Duration::Millis(60000));
  return e;
}

// ---------------------------------------------------------------------------------------------

TEST(TcpSim, HandshakeNegotiatesOptions) {
  Net net(sim::SimConfig(), sim::SimConfig());
  std::vector<std::string> trace_a;
  net.a().set_trace([&](const FourTuple&, TcpState from, TcpState to) {
    trace_a.push_back(std::string(TcpStateName(from)) + ">" + TcpStateName(to));
  });
  Established e = Handshake(net);
  ASSERT_NE(e.server, kNoSocket);
  TcpConnection* c = net.a().Get(e.client);
  TcpConnection* s = net.b().Get(e.server);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state(), TcpState::kEstablished);
  EXPECT_TRUE(c->sack_enabled());
  EXPECT_TRUE(c->timestamps_enabled());
  EXPECT_EQ(c->rcv_wscale(), 1);  // 64 KiB buffer needs a shift of 1
  EXPECT_EQ(c->snd_wscale(), s->rcv_wscale());
  EXPECT_EQ(c->smss(), 1460 - 12);
  EXPECT_EQ(c->tuple().remote, ServerEndpoint());
  EXPECT_EQ(s->tuple().remote, c->tuple().local);
  EXPECT_GE(c->tuple().local.port, 32768);
  EXPECT_TRUE(c->readiness() & kTcpConnected);
  EXPECT_TRUE(c->readiness() & kTcpWritable);
  EXPECT_STREQ(c->congestion().name(), "cubic");
  EXPECT_EQ(trace_a, (std::vector<std::string>{"CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED"}));
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kActiveOpens), 1u);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kPassiveOpens), 1u);
}

TEST(TcpSim, HandshakeWithoutOptionsFallsBack) {
  TcpConfig plain = sim::SimConfig();
  plain.window_scaling = false;
  plain.sack = false;
  plain.timestamps = false;
  Net net(sim::SimConfig(), plain);
  Established e = Handshake(net);
  TcpConnection* c = net.a().Get(e.client);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->sack_enabled());
  EXPECT_FALSE(c->timestamps_enabled());
  EXPECT_EQ(c->snd_wscale(), 0);
  EXPECT_EQ(c->rcv_wscale(), 0);
  EXPECT_EQ(c->smss(), 1460);
}

TEST(TcpSim, SynLossIsRetransmitted) {
  Net net(sim::SimConfig(), sim::SimConfig());
  int syns = 0;
  net.drop = [&](int from, const TcpRepr& r) { return from == Net::kA && r.has(kTcpSyn) && ++syns <= 2; };
  Established e = Handshake(net);
  ASSERT_NE(e.server, kNoSocket);
  EXPECT_EQ(syns, 3);
  // RFC 6298 5.5: 1 s, then 2 s: the third SYN leaves 3 s after the first.
  EXPECT_GE(net.now().micros, Instant::FromMillis(1000 + 3000).micros);
}

TEST(TcpSim, SimultaneousOpen) {
  Net net(sim::SimConfig(), sim::SimConfig());
  std::vector<std::string> trace;
  net.a().set_trace([&](const FourTuple&, TcpState from, TcpState to) {
    trace.push_back(std::string(TcpStateName(from)) + ">" + TcpStateName(to));
  });
  OpenResult a = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), 5001}, 5000);
  OpenResult b = net.b().Connect(net.now(), Net::addr(Net::kB), Endpoint{Net::addr(Net::kA), 5000}, 5001);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(net.RunUntil([&] {
    return net.a().Get(a.id)->state() == TcpState::kEstablished && net.b().Get(b.id)->state() == TcpState::kEstablished;
  }));
  EXPECT_EQ(trace, (std::vector<std::string>{"CLOSED>SYN-SENT", "SYN-SENT>SYN-RECEIVED", "SYN-RECEIVED>ESTABLISHED"}));
  // And data flows both ways afterwards.
  Peer pa{a.id, sim::RandomBytes(1, 5000)};
  Peer pb{b.id, sim::RandomBytes(2, 7000)};
  net.app = [&] {
    pa.Pump(net.a());
    pb.Pump(net.b());
  };
  ASSERT_TRUE(net.RunUntil([&] { return pa.done() && pb.done(); }));
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
  EXPECT_TRUE(SameBytes(pa.received, pb.to_send));
}

// ---------------------------------------------------------------------------------------------
// Transfers

struct TransferCase {
  double loss;
  std::uint64_t seed;
  CongestionAlgorithm cc;
  bool sack;
  bool timestamps;
};

void RunTransfer(const TransferCase& tc) {
  SCOPED_TRACE("loss=" + std::to_string(tc.loss) + " seed=" + std::to_string(tc.seed) +
               " cc=" + CongestionAlgorithmName(tc.cc) + " sack=" + std::to_string(tc.sack) +
               " ts=" + std::to_string(tc.timestamps));
  TcpConfig cfg = sim::SimConfig();
  cfg.congestion = tc.cc;
  cfg.sack = tc.sack;
  cfg.timestamps = tc.timestamps;
  sim::LinkConfig link;
  link.loss = tc.loss;
  link.duplicate = tc.loss > 0 ? 0.01 : 0;
  link.reorder = tc.loss > 0 ? 0.02 : 0;
  link.delay = Duration::Millis(2 + static_cast<std::int64_t>(tc.seed % 20));
  link.rate_bytes_per_sec = 10'000'000;
  link.seed = tc.seed;
  Net net(cfg, cfg, link);
  sim::Rng sizes(tc.seed * 31 + 7);
  OpenResult l = net.b().Listen(ServerEndpoint());
  OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint());
  ASSERT_TRUE(c.ok());
  Peer pa{c.id, sim::RandomBytes(tc.seed * 2, sizes.Below(1'000'000))};
  Peer pb{kNoSocket, sim::RandomBytes(tc.seed * 2 + 1, sizes.Below(500'000))};
  net.app = [&] {
    if (pb.id == kNoSocket) pb.id = net.b().Accept(l.id);
    pa.Pump(net.a());
    if (pb.id != kNoSocket) pb.Pump(net.b());
  };
  ASSERT_TRUE(net.RunUntil([&] { return pa.done() && pb.done(); })) << "a sent " << pa.sent << "/" << pa.to_send.size()
      << " got " << pa.received.size() << "; b sent " << pb.sent << "/" << pb.to_send.size() << " got " << pb.received.size();
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
  EXPECT_TRUE(SameBytes(pa.received, pb.to_send));
  if (getenv("TCP_DEBUG")) {
    printf("a->b %zu b->a %zu sim %lld ms retrans a=%llu b=%llu rto=%llu fr=%llu\n", pa.to_send.size(), pb.to_send.size(),
           (long long)((net.now().micros - 1000000) / 1000),
           (unsigned long long)net.a().counters().Get(TcpCounter::kRetransSegs),
           (unsigned long long)net.b().counters().Get(TcpCounter::kRetransSegs),
           (unsigned long long)(net.a().counters().Get(TcpCounter::kTimeouts) + net.b().counters().Get(TcpCounter::kTimeouts)),
           (unsigned long long)(net.a().counters().Get(TcpCounter::kFastRecoveries) + net.b().counters().Get(TcpCounter::kFastRecoveries)));
  }
  EXPECT_EQ(pa.error, TcpError::kOk);
  EXPECT_EQ(pb.error, TcpError::kOk);
  net.a().Get(pa.id)->Close();
  net.b().Get(pb.id)->Close();
  net.app = nullptr;
  ASSERT_TRUE(net.RunUntil([&] { return net.a().connection_count() == 0 && net.b().connection_count() == 0; }));
  EXPECT_EQ(net.a().timer_count(), 0u);
  if (tc.loss >= 0.05) {
    EXPECT_GT(net.a().counters().Get(TcpCounter::kRetransSegs) + net.b().counters().Get(TcpCounter::kRetransSegs), 0u);
  }
}

class TcpTransfer : public ::testing::TestWithParam<double> {};

TEST_P(TcpTransfer, RandomSizesBothDirectionsEveryByteVerified) {
  double loss = GetParam();
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    CongestionAlgorithm cc = seed % 2 == 0 ? CongestionAlgorithm::kNewReno : CongestionAlgorithm::kCubic;
    RunTransfer(TransferCase{loss, seed, cc, seed % 3 != 0, seed % 4 != 3});
    if (::testing::Test::HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpTransfer, ::testing::Values(0.0, 0.01, 0.05),
                         [](const ::testing::TestParamInfo<double>& i) {
                           return "Loss" + std::to_string(static_cast<int>(i.param * 100)) + "pct";
                         });

TEST(TcpSim, SequenceNumberWrap) {
  TcpConfig cfg = sim::SimConfig();
  cfg.isn_override = [](const FourTuple&) { return 0xffff0000u; };  // wraps after 64 KiB
  Net net(cfg, cfg);
  Established e = Handshake(net);
  Peer pa{e.client, sim::RandomBytes(5, 300'000)};
  Peer pb{e.server, sim::RandomBytes(6, 300'000)};
  net.app = [&] {
    pa.Pump(net.a());
    pb.Pump(net.b());
  };
  ASSERT_TRUE(net.RunUntil([&] { return pa.done() && pb.done(); }));
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
  EXPECT_TRUE(SameBytes(pa.received, pb.to_send));
}

TEST(TcpSim, ZeroCopySendAndPeekReceive) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  std::vector<std::uint8_t> want;
  for (int i = 0; i < 5; ++i) {
    auto chunk = sim::RandomBytes(100 + i, 3000 + i * 1000);
    want.insert(want.end(), chunk.begin(), chunk.end());
    TcpBufferPtr buf = MakeHeapBuffer(chunk);
    ASSERT_EQ(net.a().Get(e.client)->SendBuffer(buf), TcpError::kOk);
    EXPECT_EQ(buf, nullptr);
  }
  net.a().Get(e.client)->Shutdown();
  std::vector<std::uint8_t> got;
  bool eof = false;
  net.app = [&] {
    TcpConnection* s = net.b().Get(e.server);
    for (auto v = s->RecvPeek(); !v.empty(); v = s->RecvPeek()) {
      got.insert(got.end(), v.begin(), v.end());
      s->RecvConsume(v.size());
    }
    eof = s->peer_finished() && s->recv_available() == 0;
  };
  ASSERT_TRUE(net.RunUntil([&] { return eof; }));
  EXPECT_TRUE(SameBytes(got, want));
}

// ---------------------------------------------------------------------------------------------
// Loss recovery

// A segment first sent during a fast recovery is lost: the ACK that ends the recovery is exactly the
// recovery point (SND.MAX at entry), and the duplicate ACKs after it announce a new loss, which a
// fast retransmit repairs (RFC 6582 3.2 step 1: the ACK covers everything sent before the entry).
// Before, an ACK equal to the recovery point did not count, and only the retransmission timeout
// (200 ms at least) repaired it: against Linux's MPTCP, whose ACKs ride on its data without SACK
// blocks, this was the most common timeout.
TEST(TcpSim, LossOfTheFirstSegmentSentInRecoveryIsFastRetransmitted) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  Peer pa{e.client, sim::RandomBytes(11, 300'000)};
  Peer pb{e.server, {}};
  pb.shutdown_after_send = false;
  net.app = [&] {
    pa.Pump(net.a());
    pb.Pump(net.b());
  };
  // Drop A's 30th data segment once; once it comes again (the fast retransmit), drop the first
  // segment of new data after it, which starts at the recovery point.
  int data_segs = 0;
  std::optional<std::uint32_t> first_lost;
  bool retransmitted = false;
  std::optional<std::uint32_t> second_lost;
  std::uint32_t highest = 0;
  net.drop = [&](int from, const TcpRepr& r) {
    if (from != Net::kA || r.payload.empty()) return false;
    const std::uint32_t end = r.seq + static_cast<std::uint32_t>(r.payload.size());
    const bool fresh = data_segs == 0 || SeqGt(end, highest);
    if (data_segs++ == 0 || SeqGt(end, highest)) highest = end;
    if (!first_lost && data_segs == 30) {
      first_lost = r.seq;
      return true;
    }
    if (first_lost && !retransmitted && r.seq == *first_lost) {
      retransmitted = true;
      return false;
    }
    if (retransmitted && !second_lost && fresh) {
      second_lost = r.seq;
      return true;
    }
    return false;
  };
  ASSERT_TRUE(net.RunUntil([&] { return pb.received.size() == pa.to_send.size(); }, Duration::Millis(60000)));
  ASSERT_TRUE(second_lost.has_value());
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
  const auto& c = net.a().counters();
  EXPECT_EQ(c.Get(TcpCounter::kFastRecoveries), 2u);
  EXPECT_EQ(c.Get(TcpCounter::kTimeouts), 0u);
}

// ---------------------------------------------------------------------------------------------
// Windows

TEST(TcpSim, ZeroWindowThenWindowUpdate) {
  TcpConfig small = sim::SimConfig();
  small.rx_buffer = 8 * 1024;
  Net net(sim::SimConfig(), small);
  Established e = Handshake(net);
  Peer pa{e.client, sim::RandomBytes(9, 100'000)};
  Peer pb{e.server, {}};
  pb.reading = false;  // the receiver's application stalls
  pb.shutdown_after_send = false;
  net.app = [&] {
    pa.Pump(net.a());
    pb.Pump(net.b());
  };
  // The receive buffer fills and the window closes.
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->snd_wnd() == 0; }));
  EXPECT_EQ(net.b().Get(e.server)->recv_available(), 8u * 1024);
  // The sender probes, with backoff, while the window stays shut.
  net.RunFor(Duration::Millis(5000));
  std::uint64_t probes = net.a().counters().Get(TcpCounter::kZeroWindowProbes);
  EXPECT_GE(probes, 2u);
  EXPECT_LE(probes, 6u);  // 200 ms doubling: not one per RTT
  EXPECT_EQ(net.b().Get(e.server)->recv_available(), 8u * 1024);
  EXPECT_EQ(net.a().Get(e.client)->state(), TcpState::kEstablished);
  // The application reads again: a window update reopens the flow and everything arrives.
  pb.reading = true;
  ASSERT_TRUE(net.RunUntil([&] { return pb.eof; }));
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
}

TEST(TcpSim, LostWindowUpdateIsRecoveredByProbe) {
  TcpConfig small = sim::SimConfig();
  small.rx_buffer = 8 * 1024;
  Net net(sim::SimConfig(), small);
  net.keep_log = getenv("TCP_DEBUG") != nullptr;
  Established e = Handshake(net);
  Peer pa{e.client, sim::RandomBytes(10, 40'000)};
  Peer pb{e.server, {}};
  pb.reading = false;
  pb.shutdown_after_send = false;
  net.app = [&] {
    pa.Pump(net.a());
    pb.Pump(net.b());
  };
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->snd_wnd() == 0; }));
  net.RunFor(Duration::Millis(50));
  // Drop B's next pure ACKs (the window updates) for a while; only a probe can reopen the flow.
  bool dropping = true;
  net.drop = [&](int from, const TcpRepr& r) { return dropping && from == Net::kB && r.payload.empty(); };
  pb.reading = true;
  net.RunFor(Duration::Millis(20));
  dropping = false;
  std::uint64_t before = net.a().counters().Get(TcpCounter::kZeroWindowProbes);
  ASSERT_TRUE(net.RunUntil([&] { return pb.eof; }));
  EXPECT_GT(net.a().counters().Get(TcpCounter::kZeroWindowProbes), before);
  if (getenv("TCP_DEBUG")) for (auto& w : net.log) printf("%lld %d seq=%u ack=%u win=%u len=%zu fl=%x\n", (long long)w.at.micros, w.from, w.repr.seq, w.repr.ack, w.repr.window, w.payload_len, w.repr.flags);
  EXPECT_TRUE(SameBytes(pb.received, pa.to_send));
}

// ---------------------------------------------------------------------------------------------
// Closing

struct CloseTrace {
  std::vector<std::string> a;
  std::vector<std::string> b;
};

void TraceBoth(Net& net, CloseTrace& t) {
  net.a().set_trace([&t](const FourTuple&, TcpState, TcpState to) { t.a.push_back(TcpStateName(to)); });
  net.b().set_trace([&t](const FourTuple&, TcpState, TcpState to) { t.b.push_back(TcpStateName(to)); });
}

TEST(TcpSim, ActiveCloseByClient) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  CloseTrace t;
  TraceBoth(net, t);
  net.a().Get(e.client)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.b().Get(e.server)->state() == TcpState::kCloseWait; }));
  EXPECT_TRUE(net.b().Get(e.server)->readiness() & kTcpReadable);  // end of stream
  std::array<std::uint8_t, 16> buf;
  EXPECT_EQ(net.b().Get(e.server)->Recv(buf).bytes, 0u);
  EXPECT_EQ(net.b().Get(e.server)->Recv(buf).error, TcpError::kOk);
  net.b().Get(e.server)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.b().connection_count() == 0; }));
  EXPECT_EQ(net.a().Get(e.client)->state(), TcpState::kTimeWait);
  ASSERT_TRUE(net.RunUntil([&] { return net.a().connection_count() == 0; }));
  EXPECT_EQ(t.a, (std::vector<std::string>{"FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"}));
  EXPECT_EQ(t.b, (std::vector<std::string>{"CLOSE-WAIT", "LAST-ACK", "CLOSED"}));
}

TEST(TcpSim, ActiveCloseByServer) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  CloseTrace t;
  TraceBoth(net, t);
  net.b().Get(e.server)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->state() == TcpState::kCloseWait; }));
  net.a().Get(e.client)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.a().connection_count() == 0 && net.b().connection_count() == 0; }));
  EXPECT_EQ(t.b, (std::vector<std::string>{"FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"}));
  EXPECT_EQ(t.a, (std::vector<std::string>{"CLOSE-WAIT", "LAST-ACK", "CLOSED"}));
}

TEST(TcpSim, SimultaneousClose) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  CloseTrace t;
  TraceBoth(net, t);
  net.a().Get(e.client)->Close();
  net.b().Get(e.server)->Close();
  ASSERT_TRUE(net.RunUntil([&] {
    return net.a().Get(e.client)->state() == TcpState::kTimeWait && net.b().Get(e.server)->state() == TcpState::kTimeWait;
  }));
  EXPECT_EQ(t.a, (std::vector<std::string>{"FIN-WAIT-1", "CLOSING", "TIME-WAIT"}));
  EXPECT_EQ(t.b, (std::vector<std::string>{"FIN-WAIT-1", "CLOSING", "TIME-WAIT"}));
  ASSERT_TRUE(net.RunUntil([&] { return net.a().connection_count() == 0 && net.b().connection_count() == 0; }));
}

TEST(TcpSim, TimeWaitLastsTwoMslAndReAcksFin) {
  TcpConfig cfg = sim::SimConfig();
  cfg.msl = Duration::Millis(5000);
  Net net(cfg, cfg);
  net.keep_log = true;
  Established e = Handshake(net);
  net.a().Get(e.client)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.b().Get(e.server)->state() == TcpState::kCloseWait; }));
  // B's FIN gets through, but A's ACK of it is lost once: B retransmits, A (in TIME-WAIT) re-ACKs.
  int acks_dropped = 0;
  net.drop = [&](int from, const TcpRepr& r) {
    return from == Net::kA && r.payload.empty() && !r.has(kTcpFin) && acks_dropped++ == 0;
  };
  net.b().Get(e.server)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->state() == TcpState::kTimeWait; }));
  Instant entered = net.now();
  ASSERT_TRUE(net.RunUntil([&] { return net.b().connection_count() == 0; }));
  EXPECT_EQ(acks_dropped, 2);  // the second ACK (for the retransmitted FIN) passed
  EXPECT_EQ(net.a().Get(e.client)->state(), TcpState::kTimeWait);
  ASSERT_TRUE(net.RunUntil([&] { return net.a().connection_count() == 0; }));
  // 2*MSL, restarted by the retransmitted FIN (RFC 9293 3.10.7.4).
  EXPECT_GE((net.now() - entered).micros, Duration::Millis(10000).micros);
  EXPECT_LE((net.now() - entered).micros, Duration::Millis(12000).micros);
}

TEST(TcpSim, DataThenCloseDeliversEverythingBeforeFin) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  auto data = sim::RandomBytes(77, 50'000);
  ASSERT_EQ(net.a().Get(e.client)->Send(data).bytes, data.size());
  net.a().Get(e.client)->Close();
  Peer pb{e.server, {}};
  net.app = [&] { pb.Pump(net.b()); };
  ASSERT_TRUE(net.RunUntil([&] { return pb.eof; }));
  EXPECT_TRUE(SameBytes(pb.received, data));
}

TEST(TcpSim, CloseWithUnreadDataSendsRst) {
  Net net(sim::SimConfig(), sim::SimConfig());
  Established e = Handshake(net);
  auto data = sim::RandomBytes(78, 1000);
  net.a().Get(e.client)->Send(data);
  ASSERT_TRUE(net.RunUntil([&] { return net.b().Get(e.server)->recv_available() == data.size(); }));
  net.b().Get(e.server)->Close();
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->state() == TcpState::kClosed; }));
  EXPECT_EQ(net.a().Get(e.client)->error(), TcpError::kConnectionReset);
  EXPECT_TRUE(net.a().Get(e.client)->readiness() & kTcpError);
}

// ---------------------------------------------------------------------------------------------
// Timeouts

TEST(TcpSim, RetransmissionTimeoutBacksOffThenGivesUp) {
  TcpConfig cfg = sim::SimConfig();
  cfg.max_retransmits = 5;
  cfg.tail_loss_probe = false;  // the RTO alone (the probe's place is TailLossProbeThenTimeouts)
  Net net(cfg, sim::SimConfig());
  net.keep_log = true;
  Established e = Handshake(net);
  Duration rto = net.a().Get(e.client)->rtt().rto();
  bool cut = true;
  net.drop = [&](int from, const TcpRepr&) { return cut && from == Net::kA; };
  std::vector<std::uint8_t> data(1000, 0x5a);
  net.a().Get(e.client)->Send(data);
  std::size_t first = net.log.size();
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(e.client)->state() == TcpState::kClosed; }));
  EXPECT_EQ(net.a().Get(e.client)->error(), TcpError::kTimedOut);
  std::vector<std::int64_t> sends;
  for (std::size_t i = first; i < net.log.size(); ++i) {
    if (net.log[i].from == Net::kA && net.log[i].payload_len > 0) sends.push_back(net.log[i].at.micros);
  }
  ASSERT_EQ(sends.size(), 6u);  // the original and five retransmissions
  for (std::size_t i = 1; i < sends.size(); ++i) {
    std::int64_t gap = sends[i] - sends[i - 1];
    EXPECT_EQ(gap, rto.micros << (i - 1)) << "retransmission " << i;  // RFC 6298 5.5 doubling
  }
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kTimeouts), 6u);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kTimeoutAborts), 1u);
}

TEST(TcpSim, ConnectTimesOutAfterSynRetries) {
  TcpConfig cfg = sim::SimConfig();
  cfg.syn_retries = 2;
  Net net(cfg, sim::SimConfig());
  net.drop = [](int, const TcpRepr&) { return true; };
  OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint());
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(c.id)->state() == TcpState::kClosed; }));
  EXPECT_EQ(net.a().Get(c.id)->error(), TcpError::kTimedOut);
  // 1 s + 2 s + 4 s.
  EXPECT_EQ((net.now() - Instant::FromMillis(1000)).micros, Duration::Millis(7000).micros);
}

TEST(TcpSim, DelayedAckFiresAfter40ms) {
  Net net(sim::SimConfig(), sim::SimConfig());
  net.keep_log = true;
  Established e = Handshake(net);
  std::vector<std::uint8_t> one(100, 1);
  net.a().Get(e.client)->Send(one);
  Instant sent = net.now();
  std::size_t first = net.log.size();
  net.RunFor(Duration::Millis(200));
  std::optional<Instant> ack_at;
  for (std::size_t i = first; i < net.log.size(); ++i) {
    if (net.log[i].from == Net::kB && net.log[i].payload_len == 0 && !ack_at) ack_at = net.log[i].at;
  }
  ASSERT_TRUE(ack_at.has_value());
  // One-way delay 5 ms, then the 40 ms delayed-ACK timer.
  EXPECT_EQ((*ack_at - sent).micros, Duration::Millis(45).micros);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kDelayedAcks), 1u);
}

TEST(TcpSim, ReadinessEventsReachTheApplication) {
  Net net(sim::SimConfig(), sim::SimConfig());
  OpenResult l = net.b().Listen(ServerEndpoint());
  OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint());
  std::vector<std::pair<SocketId, std::uint32_t>> ev_a, ev_b;
  net.app = [&] {
    net.a().DrainEvents([&](SocketId id, std::uint32_t r) { ev_a.emplace_back(id, r); });
    net.b().DrainEvents([&](SocketId id, std::uint32_t r) { ev_b.emplace_back(id, r); });
  };
  ASSERT_TRUE(net.RunUntil([&] { return !ev_b.empty() && !ev_a.empty(); }));
  EXPECT_EQ(ev_b.front(), std::make_pair(l.id, static_cast<std::uint32_t>(kTcpAcceptable)));
  EXPECT_EQ(ev_a.front().first, c.id);
  EXPECT_TRUE(ev_a.front().second & kTcpConnected);
  EXPECT_TRUE(ev_a.front().second & kTcpWritable);
}

}  // namespace
}  // namespace braid::ustack
