// An MPTCP connection over simulated subflows (mptcp_conn_sim.h): every byte checked at the
// connection level, both directions, random sizes, a path failing mid-transfer, a path coming back
// through the path manager, backup and numa-local preferences honoured, DATA_FIN in both orders.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ustack/mptcp/path_manager.h"
#include "ustack/tests/mptcp_conn_sim.h"

namespace braid::ustack::mptcp {
namespace {

using sim::MskSim;
using sim::PipeConfig;
using ustack::sim::RandomBytes;
using ustack::sim::Rng;

MskConfig Cfg(SchedulerKind kind = SchedulerKind::kMinRtt) {
  MskConfig c;
  c.send_buffer = 256 * 1024;
  c.recv_buffer = 256 * 1024;
  c.max_mapping = 8192;
  c.scheduler = kind;
  return c;
}

PipeConfig Pipe(std::int64_t delay_ms, std::uint64_t rate, double loss, std::uint32_t cwnd = 64 * 1024) {
  PipeConfig p;
  p.delay = Duration::Millis(delay_ms);
  p.rate_bytes_per_sec = rate;
  p.loss = loss;
  p.cwnd = cwnd;
  return p;
}

void ExpectExact(const MskSim& s, const std::vector<std::uint8_t>& a_to_b, const std::vector<std::uint8_t>& b_to_a) {
  ASSERT_EQ(s.sink(MskSim::kB).size(), a_to_b.size());
  ASSERT_EQ(s.sink(MskSim::kA).size(), b_to_a.size());
  EXPECT_TRUE(s.sink(MskSim::kB) == a_to_b) << "A->B bytes differ";
  EXPECT_TRUE(s.sink(MskSim::kA) == b_to_a) << "B->A bytes differ";
}

TEST(MptcpConnSim, RandomSizesBothDirectionsEverySchedulerExact) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    Rng r(seed);
    const auto kind = static_cast<SchedulerKind>(seed % 4);
    MskSim s(Cfg(kind), Cfg(kind), seed);
    s.AddSubflow(1, Pipe(2 + static_cast<std::int64_t>(r.Below(10)), 20'000'000 + r.Below(80'000'000), 0.02 * r.Uniform()));
    s.AddSubflow(2, Pipe(5 + static_cast<std::int64_t>(r.Below(30)), 5'000'000 + r.Below(40'000'000), 0.05 * r.Uniform()));
    if (seed % 3 == 0) s.AddSubflow(3, Pipe(1, 100'000'000, 0.01, 16 * 1024));
    if (kind == SchedulerKind::kNumaLocal) s.msk(MskSim::kA).scheduler().SetPreferred({2});
    auto ab = RandomBytes(seed * 7, r.Below(1'500'000));
    auto ba = RandomBytes(seed * 11, r.Below(600'000));
    s.SetSource(MskSim::kA, ab);
    s.SetSource(MskSim::kB, ba);
    ASSERT_TRUE(s.RunUntil([&] { return s.Done(); })) << SchedulerKindName(kind);
    ExpectExact(s, ab, ba);
    EXPECT_EQ(s.msk(MskSim::kA).counters().mappings_rejected, 0u);
    EXPECT_EQ(s.msk(MskSim::kB).counters().mappings_rejected, 0u);
  }
}

TEST(MptcpConnSim, MinRttAggregatesBothPaths) {
  MskSim s(Cfg(), Cfg(), 3);
  s.AddSubflow(1, Pipe(5, 10'000'000, 0, 32 * 1024));
  s.AddSubflow(2, Pipe(8, 10'000'000, 0, 32 * 1024));
  auto ab = RandomBytes(3, 2'000'000);
  s.SetSource(MskSim::kA, ab);
  s.SetSource(MskSim::kB, {});
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, {});
  EXPECT_GT(s.carried(1, MskSim::kA), 500'000u);
  EXPECT_GT(s.carried(2, MskSim::kA), 500'000u);
}

TEST(MptcpConnSim, PathFailingMidTransferLosesAndDuplicatesNothing) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(seed);
    MskSim s(Cfg(), Cfg(), seed);
    s.AddSubflow(1, Pipe(3, 40'000'000, 0.01));
    s.AddSubflow(2, Pipe(10, 20'000'000, 0.02));
    auto ab = RandomBytes(seed, 1'200'000);
    auto ba = RandomBytes(seed + 100, 800'000);
    s.SetSource(MskSim::kA, ab);
    s.SetSource(MskSim::kB, ba);
    const SubflowId dead = seed % 2 == 0 ? 1 : 2;
    // Well into the transfer, with data of both directions in flight on the subflow that dies.
    ASSERT_TRUE(s.RunUntil([&] {
      return s.sink(MskSim::kB).size() > 300'000 && s.in_transit(dead, MskSim::kA) > 0 && s.in_transit(dead, MskSim::kB) > 0;
    }));
    s.FailSubflow(dead);
    ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
    ExpectExact(s, ab, ba);
    EXPECT_GT(s.msk(MskSim::kA).counters().tx_reinjected_bytes, 0u);
    EXPECT_GT(s.msk(MskSim::kB).counters().tx_reinjected_bytes, 0u);
  }
}

TEST(MptcpConnSim, PathRecoversThroughThePathManager) {
  MskSim s(Cfg(), Cfg(), 9);
  PathManager pm(PmConfig{}, {LocalPath{.id = 0}, LocalPath{.id = 1}}, /*active=*/true);
  SubflowId next_id = 10;
  std::map<std::uint8_t, SubflowId> by_path;
  const PipeConfig pipe[2] = {Pipe(4, 30'000'000, 0.01), Pipe(6, 30'000'000, 0.01)};
  auto carry_out = [&](Instant now) {
    for (const PmAction& a : pm.TakeActions()) {
      if (a.kind == PmActionKind::kCreateSubflow) {
        const SubflowId id = next_id++;
        s.AddSubflow(id, pipe[a.local_id], a.backup);
        by_path[a.local_id] = id;
        pm.OnSubflowEstablished(now, id, a.local_id, a.remote_id, a.backup);
      } else if (a.kind == PmActionKind::kCloseSubflow) {
        s.FailSubflow(a.subflow);
        pm.OnSubflowClosed(now, a.subflow);
      }
    }
  };
  s.AddSubflow(1, pipe[0]);
  by_path[0] = 1;
  pm.OnEstablished(s.now(), 1, 0, Endpoint{});
  carry_out(s.now());
  ASSERT_EQ(by_path.count(1), 1u);
  const SubflowId first_on_path1 = by_path[1];
  auto ab = RandomBytes(21, 3'000'000);
  auto ba = RandomBytes(22, 1'000'000);
  s.SetSource(MskSim::kA, ab);
  s.SetSource(MskSim::kB, ba);
  ASSERT_TRUE(s.RunUntil([&] { return s.sink(MskSim::kB).size() > 500'000; }));
  pm.OnPathChange(s.now(), 1, false);
  carry_out(s.now());
  EXPECT_FALSE(s.alive(first_on_path1));
  ASSERT_TRUE(s.RunUntil([&] { return s.sink(MskSim::kB).size() > 1'500'000; }));
  pm.OnPathChange(s.now(), 1, true);
  carry_out(s.now());
  const SubflowId again = by_path[1];
  ASSERT_NE(again, first_on_path1);
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, ba);
  EXPECT_GT(s.carried(again, MskSim::kA), 0u) << "the re-created subflow carried data";
  EXPECT_EQ(pm.counters().subflows_recreated, 1u);
}

TEST(MptcpConnSim, BackupCarriesNothingWhileANonBackupWorks) {
  MskSim s(Cfg(), Cfg(), 5);
  s.AddSubflow(1, Pipe(20, 10'000'000, 0.02));
  s.AddSubflow(2, Pipe(1, 100'000'000, 0), /*backup=*/true);  // faster, but backup
  auto ab = RandomBytes(5, 1'000'000);
  auto ba = RandomBytes(6, 300'000);
  s.SetSource(MskSim::kA, ab);
  s.SetSource(MskSim::kB, ba);
  ASSERT_TRUE(s.RunUntil([&] { return s.sink(MskSim::kB).size() > 600'000; }));
  EXPECT_EQ(s.carried(2, MskSim::kA), 0u);
  EXPECT_EQ(s.carried(2, MskSim::kB), 0u);
  s.FailSubflow(1);
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, ba);
  EXPECT_GT(s.carried(2, MskSim::kA), 0u) << "the backup took over";
}

TEST(MptcpConnSim, NumaLocalKeepsDataOnThePreferredSubflow) {
  MskSim s(Cfg(SchedulerKind::kNumaLocal), Cfg(SchedulerKind::kNumaLocal), 8);
  s.AddSubflow(1, Pipe(1, 100'000'000, 0));
  s.AddSubflow(2, Pipe(15, 20'000'000, 0.01));
  s.AddSubflow(3, Pipe(2, 80'000'000, 0));
  for (int e : {MskSim::kA, MskSim::kB}) s.msk(e).scheduler().SetPreferred({2});
  auto ab = RandomBytes(8, 800'000);
  auto ba = RandomBytes(9, 400'000);
  s.SetSource(MskSim::kA, ab);
  s.SetSource(MskSim::kB, ba);
  ASSERT_TRUE(s.RunUntil([&] { return s.sink(MskSim::kB).size() > 500'000; }));
  for (int e : {MskSim::kA, MskSim::kB}) {
    EXPECT_EQ(s.carried(1, e), 0u);
    EXPECT_EQ(s.carried(3, e), 0u);
    EXPECT_GT(s.carried(2, e), 0u);
  }
  s.FailSubflow(2);  // the preferred one is gone: the others (lowest RTT first) take over
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, ba);
  EXPECT_GT(s.carried(1, MskSim::kA), 0u);
}

TEST(MptcpConnSim, RedundantSendsEveryByteOnEverySubflow) {
  MskSim s(Cfg(SchedulerKind::kRedundant), Cfg(SchedulerKind::kRedundant), 4);
  s.AddSubflow(1, Pipe(3, 50'000'000, 0.02));
  s.AddSubflow(2, Pipe(9, 30'000'000, 0.02));
  auto ab = RandomBytes(4, 500'000);
  s.SetSource(MskSim::kA, ab);
  s.SetSource(MskSim::kB, {});
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, {});
  EXPECT_EQ(s.carried(1, MskSim::kA), ab.size());
  EXPECT_EQ(s.carried(2, MskSim::kA), ab.size());
  // Every byte arrived once fresh; copies still in flight when the test ends are not counted.
  EXPECT_EQ(s.msk(MskSim::kB).counters().rx_fresh_bytes, ab.size());
  EXPECT_GT(s.msk(MskSim::kB).counters().rx_duplicate_bytes, ab.size() / 2);
}

TEST(MptcpConnSim, DataFinBeforeItsDataAndHalfClose) {
  // A's data goes on a slow subflow; its DATA_FIN alone goes on the fast one and arrives first.
  MskSim s(Cfg(SchedulerKind::kNumaLocal), Cfg(), 12);
  s.AddSubflow(1, Pipe(40, 5'000'000, 0));
  s.AddSubflow(2, Pipe(1, 100'000'000, 0.3));  // DATA_FIN alone may be lost: repeated
  s.msk(MskSim::kA).scheduler().SetPreferred({1});
  auto ab = RandomBytes(12, 200'000);
  auto ba = RandomBytes(13, 300'000);
  s.SetSource(MskSim::kA, ab, /*shutdown_when_done=*/false);
  s.SetSource(MskSim::kB, ba, /*shutdown_when_done=*/false);
  ASSERT_TRUE(s.RunUntil([&] { return s.carried(1, MskSim::kA) == ab.size(); }));
  ASSERT_LT(s.sink(MskSim::kB).size(), ab.size());
  s.msk(MskSim::kA).scheduler().SetPreferred({2});  // the DATA_FIN alone now goes on the fast one
  s.Shutdown(MskSim::kA);
  // B sees the DATA_FIN before all of A's data, and is not at EOF until it has every byte.
  ASSERT_TRUE(s.RunUntil([&] { return s.msk(MskSim::kB).eof(); }));
  EXPECT_TRUE(s.fin_seen_early(MskSim::kB));
  EXPECT_EQ(s.sink(MskSim::kB), ab);
  // Half-close: B still sends after A's DATA_FIN, then closes its side.
  auto more = RandomBytes(14, 100'000);
  s.AppendSource(MskSim::kB, more);
  ba.insert(ba.end(), more.begin(), more.end());
  s.Shutdown(MskSim::kB);
  ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
  ExpectExact(s, ab, ba);
}

TEST(MptcpConnSim, DataFinBothAtOnceAndEmptyStreams) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(seed);
    MskSim s(Cfg(), Cfg(), seed);
    s.AddSubflow(1, Pipe(2, 50'000'000, 0.2));
    s.AddSubflow(2, Pipe(7, 50'000'000, 0.2));
    auto ab = seed == 1 ? std::vector<std::uint8_t>{} : RandomBytes(seed, 70'000);
    s.SetSource(MskSim::kA, ab);
    s.SetSource(MskSim::kB, {});
    ASSERT_TRUE(s.RunUntil([&] { return s.Done(); }));
    ExpectExact(s, ab, {});
  }
}

}  // namespace
}  // namespace braid::ustack::mptcp
