// The building blocks of tcp/, each on its own: sequence arithmetic, buffers, assembler, SACK
// scoreboard, timer wheel, RTO estimator, congestion control, ISN generator, counters.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "ustack/tcp/assembler.h"
#include "ustack/tcp/buffer.h"
#include "ustack/tcp/congestion.h"
#include "ustack/tcp/counters.h"
#include "ustack/tcp/cubic.h"
#include "ustack/tcp/isn.h"
#include "ustack/tcp/newreno.h"
#include "ustack/tcp/ring_buffer.h"
#include "ustack/tcp/rtt_estimator.h"
#include "ustack/tcp/sack_scoreboard.h"
#include "ustack/tcp/send_queue.h"
#include "ustack/tcp/seq.h"
#include "ustack/tcp/timer_wheel.h"

namespace braid::ustack {
namespace {

TEST(TcpSeq, ComparesAcrossTheWrap) {
  EXPECT_TRUE(SeqLt(0xfffffff0u, 0x10u));
  EXPECT_TRUE(SeqGt(0x10u, 0xfffffff0u));
  EXPECT_TRUE(SeqLe(5u, 5u));
  EXPECT_EQ(SeqMax(0xfffffff0u, 0x10u), 0x10u);
  EXPECT_TRUE(SeqInRange(0u, 0xffffff00u, 0x100u));
  EXPECT_FALSE(SeqInRange(0x100u, 0xffffff00u, 0x100u));
}

TEST(TcpRingBuffer, OutOfOrderWritesBecomeReadableInOrderAcrossTheWrap) {
  RingBuffer rb(8);
  std::array<std::uint8_t, 6> six{1, 2, 3, 4, 5, 6};
  EXPECT_EQ(rb.WriteUnallocated(0, six), 6u);
  rb.EnqueueUnallocated(6);
  std::array<std::uint8_t, 5> out{};
  EXPECT_EQ(rb.Read(out), 5u);  // read index now 5
  std::array<std::uint8_t, 3> late{9, 10, 11};
  std::array<std::uint8_t, 2> early{7, 8};
  EXPECT_EQ(rb.WriteUnallocated(2, late), 3u);  // wraps
  EXPECT_EQ(rb.WriteUnallocated(0, early), 2u);
  rb.EnqueueUnallocated(5);
  EXPECT_EQ(rb.len(), 6u);
  EXPECT_EQ(rb.window(), 2u);
  std::array<std::uint8_t, 8> all{};
  EXPECT_EQ(rb.Read(all), 6u);
  EXPECT_EQ((std::vector<std::uint8_t>(all.begin(), all.begin() + 6)), (std::vector<std::uint8_t>{6, 7, 8, 9, 10, 11}));
  // Clipped to the window.
  std::array<std::uint8_t, 20> big{};
  EXPECT_EQ(rb.WriteUnallocated(3, big), 5u);
  EXPECT_EQ(rb.WriteUnallocated(8, big), 0u);
}

TEST(TcpAssembler, MergesRangesAndPopsContiguousPrefix) {
  Assembler a;
  EXPECT_TRUE(a.Add(10, 5));  // [10,15)
  EXPECT_TRUE(a.Add(20, 5));  // [20,25)
  EXPECT_EQ(a.PopFront(), 0u);
  EXPECT_TRUE(a.Add(15, 5));  // bridges both
  ASSERT_EQ(a.ranges().size(), 1u);
  EXPECT_EQ(a.ranges()[0].begin, 10u);
  EXPECT_EQ(a.ranges()[0].end, 25u);
  EXPECT_TRUE(a.Add(0, 10));
  EXPECT_EQ(a.PopFront(), 25u);
  EXPECT_TRUE(a.empty());
  for (std::uint32_t i = 0; i < Assembler::kMaxRanges; ++i) EXPECT_TRUE(a.Add(10 + i * 10, 1));
  EXPECT_FALSE(a.Add(1000, 1));  // one hole too many
  EXPECT_TRUE(a.Add(11, 1));     // extending an existing range is fine
}

TEST(TcpSendQueue, PacksCopiesAndHoldsZeroCopyBuffers) {
  SendQueue q(200 * 1024);
  std::vector<std::uint8_t> a(100 * 1024, 1);
  EXPECT_EQ(q.Append(a), a.size());
  TcpBufferPtr buf = MakeHeapBuffer(std::vector<std::uint8_t>(1000, 2));
  const std::uint8_t* where = buf->bytes().data();
  EXPECT_TRUE(q.AppendBuffer(buf));
  EXPECT_EQ(buf, nullptr);
  EXPECT_EQ(q.size(), a.size() + 1000);
  // A segment never spans chunks: the first copy chunk is 64 KiB.
  EXPECT_EQ(q.Peek(64 * 1024 - 10, 1460).size(), 10u);
  // The zero-copy bytes are the caller's buffer, not a copy.
  EXPECT_EQ(q.Peek(a.size(), 1460).data(), where);
  q.Consume(a.size() + 10);
  EXPECT_EQ(q.Peek(0, 5000).size(), 990u);
  EXPECT_EQ(q.Peek(0, 1)[0], 2);
  TcpBufferPtr too_big = MakeHeapBuffer(std::vector<std::uint8_t>(300 * 1024, 3));
  EXPECT_FALSE(q.AppendBuffer(too_big));
  EXPECT_NE(too_big, nullptr);  // still the caller's
  std::vector<std::uint8_t> more(300 * 1024, 4);
  EXPECT_EQ(q.Append(more), 200u * 1024 - 990);
}

TEST(TcpSackScoreboard, MergesFindsHolesAndLoss) {
  SackScoreboard sb;
  const std::uint32_t una = 0xfffff000u;  // across the wrap
  const std::uint32_t max = una + 10000;
  sb.Add(una + 3000, una + 4000, una, max);
  sb.Add(una + 5000, una + 6000, una, max);
  sb.Add(una + 3500, una + 5000, una, max);  // joins the two
  sb.Add(una - 500, una, una, max);           // below SND.UNA: ignored (D-SACK)
  ASSERT_EQ(sb.ranges().size(), 1u);
  EXPECT_EQ(sb.SackedBytes(), 3000u);
  EXPECT_TRUE(sb.IsLost(una, 2 * 1000));
  EXPECT_FALSE(sb.IsLost(una, 3 * 1000));
  auto hole = sb.NextHole(una, max);
  ASSERT_TRUE(hole.has_value());
  EXPECT_EQ(hole->left, una);
  EXPECT_EQ(hole->right, una + 3000);
  hole = sb.NextHole(una + 3200, max);
  ASSERT_TRUE(hole.has_value());
  EXPECT_EQ(hole->left, una + 6000);
  EXPECT_EQ(sb.LostBoundary(una, 2000), una + 3000);
  EXPECT_EQ(sb.UnsackedBytes(una, max), 7000u);
  sb.Prune(una + 4000);
  EXPECT_EQ(sb.SackedBytes(), 2000u);
}

TEST(TcpTimerWheel, FiresInOrderIncludingPastTheHorizon) {
  TimerWheel w(Duration::Millis(1), 16);  // a 16 ms horizon
  w.Schedule(1, Instant::FromMillis(5));
  w.Schedule(2, Instant::FromMillis(3));
  w.Schedule(3, Instant::FromMillis(100));  // beyond one turn
  w.Schedule(4, Instant::FromMillis(7));
  w.Cancel(4);
  w.Schedule(1, Instant::FromMillis(9));  // moved
  EXPECT_EQ(w.NextDeadline(), Instant::FromMillis(3));
  std::vector<std::uint32_t> fired;
  auto fire = [&](std::uint32_t id) { fired.push_back(id); };
  w.Expire(Instant::FromMillis(5), fire);
  EXPECT_EQ(fired, (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(w.NextDeadline(), Instant::FromMillis(9));
  w.Expire(Instant::FromMillis(20), fire);
  EXPECT_EQ(fired, (std::vector<std::uint32_t>{2, 1}));
  EXPECT_EQ(w.NextDeadline(), Instant::FromMillis(100));
  w.Expire(Instant::FromMillis(99), fire);
  EXPECT_EQ(fired.size(), 2u);
  w.Expire(Instant::FromMillis(100), fire);
  EXPECT_EQ(fired, (std::vector<std::uint32_t>{2, 1, 3}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(w.NextDeadline().has_value());
  // A deadline already in the past fires on the next Expire.
  w.Schedule(5, Instant::FromMillis(50));
  w.Expire(Instant::FromMillis(100), fire);
  EXPECT_EQ(fired.back(), 5u);
}

TEST(TcpRttEstimator, FollowsRfc6298) {
  RttEstimator r(Duration::Millis(1000), Duration::Millis(200), Duration::Millis(60000));
  EXPECT_EQ(r.rto(), Duration::Millis(1000));  // 2.1
  r.Sample(Duration::Millis(100));             // 2.2: SRTT=100, RTTVAR=50, RTO=300
  EXPECT_EQ(r.srtt(), Duration::Millis(100));
  EXPECT_EQ(r.rto(), Duration::Millis(300));
  r.Sample(Duration::Millis(100));  // RTTVAR=37.5, RTO=250
  EXPECT_EQ(r.rto(), Duration{250000});
  r.Backoff();
  EXPECT_EQ(r.rto(), Duration{500000});
  r.Backoff();
  EXPECT_EQ(r.rto(), Duration{1000000});
  for (int i = 0; i < 20; ++i) r.Backoff();
  EXPECT_EQ(r.rto(), Duration::Millis(60000));  // capped
  r.Sample(Duration::Millis(100));  // a new sample resets the backoff (5.7)
  EXPECT_EQ(r.backoff(), 0);
  EXPECT_LT(r.rto(), Duration::Millis(300));
  RttEstimator fast(Duration::Millis(1000), Duration::Millis(200), Duration::Millis(60000));
  fast.Sample(Duration::Millis(1));
  EXPECT_EQ(fast.rto(), Duration::Millis(200));  // the floor (Linux's 200 ms, not RFC's 1 s)
}

TEST(TcpCongestion, NewRenoHalvesAndGrowsLinearly) {
  NewReno cc(1000);
  EXPECT_EQ(cc.cwnd(), 10000u);  // RFC 6928 IW10
  cc.OnAck(Instant{}, 1000, std::nullopt);
  EXPECT_EQ(cc.cwnd(), 11000u);  // slow start
  cc.OnCongestionEvent(Instant{}, 20000);
  EXPECT_EQ(cc.ssthresh(), 10000u);
  EXPECT_EQ(cc.cwnd(), 10000u);
  for (int i = 0; i < 10; ++i) cc.OnAck(Instant{}, 1000, std::nullopt);
  EXPECT_EQ(cc.cwnd(), 11000u);  // one MSS per window in congestion avoidance
  cc.OnRetransmissionTimeout(Instant{}, 11000, true);
  EXPECT_EQ(cc.cwnd(), 1000u);
  EXPECT_EQ(cc.ssthresh(), 5500u);
  cc.OnRetransmissionTimeout(Instant{}, 11000, false);
  EXPECT_EQ(cc.ssthresh(), 5500u);  // not reduced twice for the same data
}

TEST(TcpCongestion, CubicReducesByBetaAndRegrowsTowardWmax) {
  auto cc = MakeCongestionControl(CongestionAlgorithm::kCubic, 1000);
  EXPECT_STREQ(cc->name(), "cubic");
  for (int i = 0; i < 90; ++i) cc->OnAck(Instant{}, 1000, std::nullopt);
  ASSERT_EQ(cc->cwnd(), 100000u);
  cc->OnCongestionEvent(Instant::FromMillis(0), 100000);
  EXPECT_EQ(cc->cwnd(), 70000u);  // RFC 9438 4.6: beta_cubic = 0.7
  EXPECT_EQ(cc->ssthresh(), 70000u);
  // K = cbrt(30 / 0.4) ~ 4.2 s: the window returns near W_max (100 segments) around then and
  // plateaus there before probing beyond.
  Duration rtt = Duration::Millis(50);
  Instant t = Instant::FromMillis(0);
  std::uint32_t at_k = 0;
  for (int ms = 0; ms <= 8000; ms += 50) {
    t = Instant::FromMillis(ms);
    for (int i = 0; i < 10; ++i) cc->OnAck(t, 1000, rtt);
    if (ms == 4200) at_k = cc->cwnd();
  }
  EXPECT_GT(at_k, 95000u);
  EXPECT_LT(at_k, 106000u);
  EXPECT_GT(cc->cwnd(), 110000u);  // convex region after K: ~0.4*(8-4.2)^3 + 100 segments
}

TEST(TcpIsn, DeterministicPerSecretTupleAndTime) {
  std::array<std::uint8_t, 32> s1{};
  std::array<std::uint8_t, 32> s2{};
  s2[0] = 1;
  IsnGenerator g1(s1), g1b(s1), g2(s2);
  FourTuple t{Endpoint{IpAddress::V4(198, 18, 0, 1), 1000}, Endpoint{IpAddress::V4(198, 18, 0, 2), 80}};
  FourTuple u = t;
  u.local.port = 1001;
  Instant now = Instant::FromMillis(1);
  EXPECT_EQ(g1.Isn(t, now), g1b.Isn(t, now));
  EXPECT_NE(g1.Isn(t, now), g2.Isn(t, now));
  EXPECT_NE(g1.Isn(t, now), g1.Isn(u, now));
  // RFC 6528: M ticks every 4 us.
  EXPECT_EQ(g1.Isn(t, now + Duration{400}) - g1.Isn(t, now), 100u);
  EXPECT_NE(g1.TimestampOffset(t), g1.TimestampOffset(u));
  IsnGenerator r = IsnGenerator::Random();
  (void)r.Isn(t, now);
}

TEST(TcpCounters, EveryCounterHasANameAndHelp) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < static_cast<std::size_t>(TcpCounter::kCount); ++i) {
    auto c = static_cast<TcpCounter>(i);
    ASSERT_NE(TcpCounterName(c), nullptr);
    EXPECT_GT(std::strlen(TcpCounterHelp(c)), 10u) << TcpCounterName(c);
    names.insert(TcpCounterName(c));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(TcpCounter::kCount));
  TcpCounters cs;
  cs.Inc(TcpCounter::kPawsRejected, 3);
  EXPECT_EQ(cs.Get(TcpCounter::kPawsRejected), 3u);
}

}  // namespace
}  // namespace braid::ustack
