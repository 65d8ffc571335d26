// Crafted segments against one stack: RST handling (RFC 5961), closed ports (RFC 9293 3.10.7.1),
// PAWS (RFC 7323), challenge-ACK limits, listener backlog.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "ustack/tests/tcp_sim.h"

namespace braid::ustack {

namespace {

using sim::Net;
using sim::WireRecord;

constexpr std::uint16_t kPort = 8080;

struct Fixture {
  explicit Fixture(TcpConfig b_config = sim::SimConfig()) : net(sim::SimConfig(), std::move(b_config)) {
    net.keep_log = true;
    listener = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort}).id;
    client = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), kPort}).id;
    net.RunUntil([&] {
      if (server == kNoSocket) server = net.b().Accept(listener);
      return server != kNoSocket && net.a().Get(client)->state() == TcpState::kEstablished;
    });
    net.RunFor(Duration::Millis(100));  // let every ACK land
  }
  TcpConnection& s() { return *net.b().Get(server); }
  // A segment from A's side as B would receive it.
  TcpRepr FromA(std::uint32_t seq, std::uint8_t flags) {
    TcpRepr r;
    r.src_port = s().tuple().remote.port;
    r.dst_port = s().tuple().local.port;
    r.seq = seq;
    r.flags = flags;
    if (flags & kTcpAck) r.ack = s().snd_nxt();
    r.window = 1000;
    return r;
  }
  std::vector<WireRecord> Inject(const TcpRepr& r) { return net.Inject(Net::kB, s().tuple(), r); }
  std::uint64_t b(TcpCounter c) { return net.b().counters().Get(c); }

  Net net;
  SocketId listener = kNoSocket;
  SocketId client = kNoSocket;
  SocketId server = kNoSocket;
};

TEST(TcpSegment, RstInWindowGetsChallengeAck) {
  Fixture f;
  std::uint32_t rcv_nxt = f.s().rcv_nxt();
  auto out = f.Inject(f.FromA(rcv_nxt + 100, kTcpRst));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].repr.flags, kTcpAck);
  EXPECT_EQ(out[0].repr.ack, rcv_nxt);
  EXPECT_EQ(f.s().state(), TcpState::kEstablished);
  EXPECT_EQ(f.b(TcpCounter::kRstInWindow), 1u);
  EXPECT_EQ(f.b(TcpCounter::kChallengeAcks), 1u);
}

TEST(TcpSegment, RstExactlyAtRcvNxtResets) {
  Fixture f;
  auto out = f.Inject(f.FromA(f.s().rcv_nxt(), kTcpRst));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(f.s().state(), TcpState::kClosed);
  EXPECT_EQ(f.s().error(), TcpError::kConnectionReset);
  EXPECT_EQ(f.s().readiness() & (kTcpHangup | kTcpError | kTcpReadable), kTcpHangup | kTcpError | kTcpReadable);
  std::array<std::uint8_t, 8> buf;
  EXPECT_EQ(f.s().Recv(buf).error, TcpError::kConnectionReset);
  EXPECT_EQ(f.s().Send(buf).error, TcpError::kConnectionReset);
  EXPECT_EQ(f.b(TcpCounter::kEstabResets), 1u);
  // The application still holds it; Close() lets the table free it.
  f.s().Close();
  f.net.RunFor(Duration::Millis(1));
  EXPECT_EQ(f.net.b().Get(f.server), nullptr);
}

TEST(TcpSegment, RstOutsideWindowIsIgnored) {
  Fixture f;
  auto out = f.Inject(f.FromA(f.s().rcv_nxt() + 0x40000000u, kTcpRst));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(f.s().state(), TcpState::kEstablished);
  EXPECT_EQ(f.b(TcpCounter::kRstOutOfWindow), 1u);
}

TEST(TcpSegment, SynOnEstablishedGetsChallengeAck) {
  Fixture f;
  std::uint32_t rcv_nxt = f.s().rcv_nxt();
  auto out = f.Inject(f.FromA(rcv_nxt + 5, kTcpSyn));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].repr.flags, kTcpAck);
  EXPECT_EQ(out[0].repr.ack, rcv_nxt);
  EXPECT_EQ(f.s().state(), TcpState::kEstablished);
  EXPECT_EQ(f.b(TcpCounter::kSynInSynchronized), 1u);
}

TEST(TcpSegment, ChallengeAcksAreRateLimited) {
  TcpConfig cfg = sim::SimConfig();
  cfg.challenge_ack_limit = 2;
  Fixture f(cfg);
  std::size_t acks = 0;
  for (int i = 0; i < 5; ++i) acks += f.Inject(f.FromA(f.s().rcv_nxt() + 10 + i, kTcpRst)).size();
  EXPECT_EQ(acks, 2u);
  EXPECT_EQ(f.b(TcpCounter::kChallengeAckLimited), 3u);
}

TEST(TcpSegment, AckForUnsentDataIsAckedAndDropped) {
  Fixture f;
  TcpRepr r = f.FromA(f.s().rcv_nxt(), kTcpAck);
  r.ack = f.s().snd_nxt() + 5000;
  auto out = f.Inject(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(f.b(TcpCounter::kAckUnsent), 1u);
  EXPECT_EQ(f.s().snd_una(), f.s().snd_nxt());
}

TEST(TcpSegment, OutOfWindowDataIsAckedAndDropped) {
  Fixture f;
  std::uint32_t rcv_nxt = f.s().rcv_nxt();
  TcpRepr r = f.FromA(rcv_nxt + 0x10000000u, kTcpAck);
  std::vector<std::uint8_t> data(100, 7);
  r.payload = data;
  auto out = f.Inject(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].repr.ack, rcv_nxt);
  EXPECT_EQ(f.s().recv_available(), 0u);
  EXPECT_EQ(f.b(TcpCounter::kSeqOutOfWindow), 1u);
}

// Counts the segments tcp/ hands to its option hook.
class SeenHook : public TcpOptionHook {
 public:
  std::uint32_t ReservedOptionSpace() const override { return 0; }
  bool OnSegmentIn(const TcpRepr&, TcpState) override {
    ++seen;
    return true;
  }
  void OnSegmentOut(TcpRepr&, TcpState) override {}
  int seen = 0;
};

// RFC 9293 3.10.7.4: with our window closed, a data segment at RCV.NXT is refused but its ACK
// still counts; so does what rides on it for the option hook (MPTCP's DATA_ACK and connection-level
// window: a peer whose window update was lost may have nothing else to tell us with).
TEST(TcpSegment, ZeroWindowSegmentAtRcvNxtReachesTheHookButNotTheBuffer) {
  Fixture f;
  std::vector<std::uint8_t> data(1000, 5);
  for (int i = 0; i < 10'000 && f.s().rcv_wnd() > 0; ++i) {
    TcpRepr r = f.FromA(f.s().rcv_nxt(), kTcpAck);
    r.payload = std::span(data).first(std::min<std::size_t>(data.size(), f.s().rcv_wnd()));
    f.Inject(r);
  }
  ASSERT_EQ(f.s().rcv_wnd(), 0u);
  const std::size_t buffered = f.s().recv_available();
  auto hook = std::make_unique<SeenHook>();
  SeenHook* seen = hook.get();
  f.s().set_option_hook(std::move(hook));
  TcpRepr r = f.FromA(f.s().rcv_nxt(), kTcpAck);
  r.payload = data;
  auto out = f.Inject(r);
  EXPECT_EQ(seen->seen, 1);
  EXPECT_EQ(f.s().recv_available(), buffered);  // the data itself is dropped
  ASSERT_EQ(out.size(), 1u);                     // and answered with an ACK
  EXPECT_EQ(out[0].repr.ack, f.s().rcv_nxt());
}

// A pure ACK whose SEQ is the right edge of our window (the peer's SND.MAX after its timeout,
// Linux's window end) still acknowledges our data.
TEST(TcpSegment, PureAckAtTheRightWindowEdgeIsProcessed) {
  Fixture f;
  f.net.drop = [](int from, const TcpRepr&) { return from == Net::kB; };
  std::vector<std::uint8_t> data(1000, 3);
  ASSERT_EQ(f.s().Send(data).bytes, data.size());
  f.net.RunFor(Duration::Millis(1));
  const std::uint32_t una = f.s().snd_una();
  ASSERT_EQ(f.s().snd_nxt(), una + 1000);
  TcpRepr r = f.FromA(f.s().rcv_nxt() + f.s().rcv_wnd(), kTcpAck);
  f.Inject(r);
  EXPECT_EQ(f.s().snd_una(), una + 1000);
  EXPECT_EQ(f.b(TcpCounter::kSeqOutOfWindow), 0u);
}

TEST(TcpSegment, PawsDropsSegmentWithOldTimestamp) {
  Fixture f;
  ASSERT_TRUE(f.s().timestamps_enabled());
  // The newest TSval A sent: B's TS.Recent.
  std::optional<TcpTimestamp> last;
  for (const WireRecord& w : f.net.log) {
    if (w.from == Net::kA && w.repr.timestamp) last = w.repr.timestamp;
  }
  ASSERT_TRUE(last.has_value());
  std::vector<std::uint8_t> data(100, 9);
  TcpRepr old = f.FromA(f.s().rcv_nxt(), kTcpAck | kTcpPsh);
  old.payload = data;
  old.timestamp = TcpTimestamp{last->value - 100000, 0};
  auto out = f.Inject(old);
  ASSERT_EQ(out.size(), 1u);  // RFC 7323 5.3 R1: ACK and drop
  EXPECT_EQ(f.s().recv_available(), 0u);
  EXPECT_EQ(f.b(TcpCounter::kPawsRejected), 1u);
  // The same segment with a current timestamp is accepted.
  TcpRepr fresh = old;
  fresh.timestamp = TcpTimestamp{last->value + 1, 0};
  f.Inject(fresh);
  EXPECT_EQ(f.s().recv_available(), data.size());
}

TEST(TcpSegment, ConnectToClosedPortIsRefused) {
  Net net(sim::SimConfig(), sim::SimConfig());
  OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), 9});
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Get(c.id)->state() == TcpState::kClosed; }));
  EXPECT_EQ(net.a().Get(c.id)->error(), TcpError::kConnectionRefused);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kNoSocket), 1u);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kOutRsts), 1u);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kAttemptFails), 1u);
}

TEST(TcpSegment, ClosedPortAnswersPerRfc9293) {
  Net net(sim::SimConfig(), sim::SimConfig());
  FourTuple t{Endpoint{Net::addr(Net::kB), 9}, Endpoint{Net::addr(Net::kA), 40000}};
  TcpRepr syn;
  syn.src_port = 40000;
  syn.dst_port = 9;
  syn.seq = 1000;
  syn.flags = kTcpSyn;
  std::vector<std::uint8_t> data(10, 1);
  syn.payload = data;
  auto out = net.Inject(Net::kB, t, syn);
  ASSERT_EQ(out.size(), 1u);  // no ACK in: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  EXPECT_EQ(out[0].repr.flags, kTcpRst | kTcpAck);
  EXPECT_EQ(out[0].repr.seq, 0u);
  EXPECT_EQ(out[0].repr.ack, 1011u);
  EXPECT_EQ(out[0].repr.src_port, 9);
  EXPECT_EQ(out[0].repr.dst_port, 40000);

  TcpRepr ack;
  ack.src_port = 40000;
  ack.dst_port = 9;
  ack.seq = 1000;
  ack.ack = 5555;
  ack.flags = kTcpAck;
  out = net.Inject(Net::kB, t, ack);
  ASSERT_EQ(out.size(), 1u);  // ACK in: <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(out[0].repr.flags, kTcpRst);
  EXPECT_EQ(out[0].repr.seq, 5555u);

  TcpRepr rst = ack;
  rst.flags = kTcpRst;
  EXPECT_TRUE(net.Inject(Net::kB, t, rst).empty());  // never answer a RST
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kNoSocket), 3u);
}

TEST(TcpSegment, ListenerBacklogOverflowDropsSyn) {
  Net net(sim::SimConfig(), sim::SimConfig());
  OpenResult l = net.b().Listen(Endpoint{IpAddress{}, kPort}, 1);  // wildcard address
  ASSERT_TRUE(l.ok());
  for (std::uint16_t port : {40000, 40001}) {
    FourTuple t{Endpoint{Net::addr(Net::kB), kPort}, Endpoint{Net::addr(Net::kA), port}};
    TcpRepr syn;
    syn.src_port = port;
    syn.dst_port = kPort;
    syn.seq = 77;
    syn.flags = kTcpSyn;
    syn.mss = 1460;
    syn.window = 65535;
    auto out = net.Inject(Net::kB, t, syn);
    if (port == 40000) {
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].repr.flags, kTcpSyn | kTcpAck);
      EXPECT_EQ(out[0].repr.ack, 78u);
      EXPECT_EQ(out[0].repr.mss, 1460);
      EXPECT_FALSE(out[0].repr.window_scale.has_value());  // not offered, not answered
      EXPECT_FALSE(out[0].repr.timestamp.has_value());
    } else {
      EXPECT_TRUE(out.empty());
    }
  }
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kListenOverflows), 1u);
  EXPECT_EQ(net.b().Listen(Endpoint{IpAddress{}, kPort}).error, TcpError::kAddressInUse);
}

TEST(TcpSegment, HalfOpenConnectionDiesAfterSynAckRetries) {
  TcpConfig cfg = sim::SimConfig();
  cfg.syn_retries = 2;
  Net net(sim::SimConfig(), cfg);
  OpenResult l = net.b().Listen(Endpoint{Net::addr(Net::kB), kPort});
  FourTuple t{Endpoint{Net::addr(Net::kB), kPort}, Endpoint{Net::addr(Net::kA), 40000}};
  TcpRepr syn;
  syn.src_port = 40000;
  syn.dst_port = kPort;
  syn.seq = 1;
  syn.flags = kTcpSyn;
  net.drop = [](int, const TcpRepr&) { return true; };
  net.Inject(Net::kB, t, syn);
  EXPECT_EQ(net.b().connection_count(), 1u);
  ASSERT_TRUE(net.RunUntil([&] { return net.b().connection_count() == 0; }));
  EXPECT_EQ(net.b().Accept(l.id), kNoSocket);
  EXPECT_EQ(net.b().timer_count(), 0u);
}

}  // namespace
}  // namespace braid::ustack
