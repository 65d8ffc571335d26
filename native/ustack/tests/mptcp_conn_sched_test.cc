// The schedulers as pure decisions over tables of subflows.
#include <gtest/gtest.h>

#include <vector>

#include "ustack/mptcp/scheduler.h"

namespace braid::ustack::mptcp {
namespace {

SchedSubflow Sf(SubflowId id, std::int64_t rtt_ms, std::uint32_t space, bool backup = false, bool usable = true) {
  return SchedSubflow{.id = id, .usable = usable, .backup = backup, .srtt = Duration::Millis(rtt_ms), .send_space = space};
}

std::vector<SubflowId> Send(Scheduler& s, const std::vector<SchedSubflow>& table) {
  std::vector<SubflowId> out;
  s.GetSend(table, out);
  return out;
}

TEST(MptcpConnSched, MinRttPicksTheFastestWithRoom) {
  auto s = MakeScheduler(SchedulerKind::kMinRtt);
  EXPECT_EQ(Send(*s, {Sf(1, 30, 100), Sf(2, 10, 100), Sf(3, 20, 100)}), std::vector<SubflowId>{2});
  EXPECT_EQ(Send(*s, {Sf(1, 30, 100), Sf(2, 10, 0), Sf(3, 20, 100)}), std::vector<SubflowId>{3});
  EXPECT_TRUE(Send(*s, {Sf(1, 30, 0), Sf(2, 10, 0)}).empty());
  EXPECT_TRUE(Send(*s, {}).empty());
}

TEST(MptcpConnSched, BackupOnlyWhenNoNonBackupIsUsable) {
  for (auto kind : {SchedulerKind::kMinRtt, SchedulerKind::kRoundRobin, SchedulerKind::kRedundant,
                    SchedulerKind::kNumaLocal}) {
    SCOPED_TRACE(SchedulerKindName(kind));
    auto s = MakeScheduler(kind);
    // The non-backup subflow is full: wait rather than use the backup.
    EXPECT_TRUE(Send(*s, {Sf(1, 50, 0), Sf(2, 1, 100, true)}).empty());
    EXPECT_EQ(Send(*s, {Sf(1, 50, 10), Sf(2, 1, 100, true)}), std::vector<SubflowId>{1});
    // The non-backup subflow is gone: the backup takes over.
    EXPECT_EQ(Send(*s, {Sf(1, 50, 10, false, false), Sf(2, 1, 100, true)}), std::vector<SubflowId>{2});
    EXPECT_EQ(s->GetRetrans(std::vector<SchedSubflow>{Sf(1, 50, 10, false, false), Sf(2, 1, 100, true)}),
              std::optional<SubflowId>{2});
  }
}

TEST(MptcpConnSched, RoundRobinTakesTurnsAmongThoseWithRoom) {
  auto s = MakeScheduler(SchedulerKind::kRoundRobin);
  std::vector<SchedSubflow> t{Sf(3, 10, 100), Sf(1, 10, 100), Sf(2, 10, 100)};
  std::vector<SubflowId> seq;
  for (int i = 0; i < 6; ++i) seq.push_back(Send(*s, t).at(0));
  EXPECT_EQ(seq, (std::vector<SubflowId>{1, 2, 3, 1, 2, 3}));
  t[2].send_space = 0;  // subflow 2 full: skipped
  seq.clear();
  for (int i = 0; i < 4; ++i) seq.push_back(Send(*s, t).at(0));
  EXPECT_EQ(seq, (std::vector<SubflowId>{1, 3, 1, 3}));
}

TEST(MptcpConnSched, RedundantSendsOnEveryUsableSubflow) {
  auto s = MakeScheduler(SchedulerKind::kRedundant);
  EXPECT_EQ(Send(*s, {Sf(1, 10, 100), Sf(2, 30, 100), Sf(3, 5, 100, false, false)}), (std::vector<SubflowId>{1, 2}));
  EXPECT_TRUE(Send(*s, {Sf(1, 10, 100), Sf(2, 30, 0)}).empty());  // a copy waits for the slowest
  EXPECT_EQ(s->GetRetrans(std::vector<SchedSubflow>{Sf(1, 10, 100), Sf(2, 3, 100)}), std::optional<SubflowId>{2});
}

TEST(MptcpConnSched, NumaLocalPrefersTheGivenSubflows) {
  auto s = MakeScheduler(SchedulerKind::kNumaLocal);
  // No preference: min-RTT.
  EXPECT_EQ(Send(*s, {Sf(1, 30, 100), Sf(2, 10, 100)}), std::vector<SubflowId>{2});
  s->SetPreferred({1, 3});
  EXPECT_EQ(Send(*s, {Sf(1, 30, 100), Sf(2, 10, 100), Sf(3, 40, 100)}), std::vector<SubflowId>{1});
  EXPECT_EQ(Send(*s, {Sf(1, 30, 0), Sf(2, 10, 100), Sf(3, 40, 100)}), std::vector<SubflowId>{3});
  // Preferred ones usable but full: wait.
  EXPECT_TRUE(Send(*s, {Sf(1, 30, 0), Sf(2, 10, 100), Sf(3, 40, 0)}).empty());
  // None of them usable: the others.
  EXPECT_EQ(Send(*s, {Sf(1, 30, 100, false, false), Sf(2, 10, 100), Sf(3, 40, 100, false, false)}),
            std::vector<SubflowId>{2});
  // Backup rule inside the preferred set.
  EXPECT_EQ(Send(*s, {Sf(1, 1, 100, true), Sf(2, 10, 100), Sf(3, 40, 100)}), std::vector<SubflowId>{3});
}

}  // namespace
}  // namespace braid::ustack::mptcp
