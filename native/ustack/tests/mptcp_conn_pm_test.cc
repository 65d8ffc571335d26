// The in-stack path manager as a pure state machine: events in, PmActions out.
#include <gtest/gtest.h>

#include <vector>

#include "ustack/mptcp/path_manager.h"

namespace braid::ustack::mptcp {
namespace {

Endpoint Ep(std::uint8_t last, std::uint16_t port = 0) { return Endpoint{IpAddress::V4(198, 18, last, 1), port}; }

std::vector<LocalPath> ThreePaths() {
  return {LocalPath{.id = 0, .addr = Ep(0)}, LocalPath{.id = 1, .addr = Ep(1), .backup = true},
          LocalPath{.id = 2, .addr = Ep(2), .subflow = false, .up = true}};
}

Instant Ms(std::int64_t ms) { return Instant::FromMillis(ms); }

std::vector<PmActionKind> Kinds(const std::vector<PmAction>& v) {
  std::vector<PmActionKind> k;
  for (const auto& a : v) k.push_back(a.kind);
  return k;
}

TEST(MptcpConnPm, ActiveSideOpensOneSubflowPerOtherPath) {
  PathManager pm(PmConfig{}, ThreePaths(), true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  auto a = pm.TakeActions();
  ASSERT_EQ(a.size(), 1u);  // path 2 has subflow=false
  EXPECT_EQ(a[0].kind, PmActionKind::kCreateSubflow);
  EXPECT_EQ(a[0].local_id, 1);
  EXPECT_EQ(a[0].remote_id, 0);
  EXPECT_EQ(a[0].remote, Ep(9, 80));
  EXPECT_TRUE(a[0].backup);
  pm.OnSubflowEstablished(Ms(10), 101, 1, 0, true);
  EXPECT_TRUE(pm.TakeActions().empty());
  EXPECT_EQ(pm.Subflows().size(), 2u);
}

TEST(MptcpConnPm, RespectsTheSubflowLimit) {
  PmConfig cfg;
  cfg.max_subflows = 1;
  std::vector<LocalPath> paths = ThreePaths();
  paths[2].subflow = true;
  PathManager pm(cfg, paths, true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  EXPECT_EQ(pm.TakeActions().size(), 1u);
  EXPECT_EQ(pm.OnJoinRequest(0), JoinDecision::kRejectLimit);
}

TEST(MptcpConnPm, RetriesAFailedCreateWithBackoff) {
  PathManager pm(PmConfig{}, ThreePaths(), true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  pm.TakeActions();
  pm.OnSubflowCreateFailed(Ms(5), 1, 0);
  EXPECT_EQ(pm.NextDeadline(), Ms(505));
  pm.Tick(Ms(504));
  EXPECT_TRUE(pm.TakeActions().empty());
  pm.Tick(Ms(505));
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kCreateSubflow});
  pm.OnSubflowCreateFailed(Ms(600), 1, 0);
  EXPECT_EQ(pm.NextDeadline(), Ms(1600));  // doubled
  EXPECT_EQ(pm.counters().subflows_recreated, 1u);
}

TEST(MptcpConnPm, ReCreatesALostSubflowAndFollowsThePath) {
  PathManager pm(PmConfig{}, ThreePaths(), true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  pm.TakeActions();
  pm.OnSubflowEstablished(Ms(1), 101, 1, 0, true);
  // Lost while the path is up: re-created after the backoff.
  pm.OnSubflowClosed(Ms(10), 101);
  pm.Tick(Ms(510));
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kCreateSubflow});
  pm.OnSubflowEstablished(Ms(520), 102, 1, 0, true);
  // Path down: its subflow closes and stays closed.
  pm.OnPathChange(Ms(600), 1, false);
  auto a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), std::vector<PmActionKind>{PmActionKind::kCloseSubflow});
  EXPECT_EQ(a[0].subflow, 102u);
  pm.OnSubflowClosed(Ms(601), 102);
  EXPECT_EQ(pm.OnJoinRequest(1), JoinDecision::kRejectPathDown);
  pm.Tick(Ms(5000));
  EXPECT_TRUE(pm.TakeActions().empty());
  // Path back: at once.
  pm.OnPathChange(Ms(6000), 1, true);
  a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), std::vector<PmActionKind>{PmActionKind::kCreateSubflow});
  EXPECT_EQ(a[0].local_id, 1);
  EXPECT_EQ(pm.counters().subflows_recreated, 2u);
}

TEST(MptcpConnPm, PassiveSideAnnouncesUntilEchoed) {
  PmConfig cfg;
  cfg.add_addr_timeout = Duration::Millis(1000);
  PathManager pm(cfg, ThreePaths(), false);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 5000));
  auto a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), (std::vector<PmActionKind>{PmActionKind::kAnnounce, PmActionKind::kAnnounce}));
  EXPECT_EQ(a[0].local_id, 1);
  EXPECT_EQ(a[1].local_id, 2);
  pm.OnAddAddrEcho(2);
  EXPECT_EQ(pm.NextDeadline(), Ms(1000));
  pm.Tick(Ms(1000));
  a = pm.TakeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].local_id, 1);
  pm.Tick(Ms(2000));
  pm.Tick(Ms(3000));
  pm.Tick(Ms(4000));
  pm.Tick(Ms(5000));
  EXPECT_EQ(pm.counters().announce_repeats, 3u);  // then it gives up
  EXPECT_EQ(pm.NextDeadline().micros, INT64_MAX);
  // A path that goes down is withdrawn, and announced again when it returns.
  pm.TakeActions();
  pm.OnPathChange(Ms(6000), 2, false);
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kRemoveAddr});
  pm.OnPathChange(Ms(7000), 2, true);
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kAnnounce});
  EXPECT_EQ(pm.OnJoinRequest(1), JoinDecision::kAccept);
}

TEST(MptcpConnPm, EchoesAndUsesThePeersAnnouncements) {
  PmConfig cfg;
  cfg.max_add_addr_accepted = 1;
  PathManager pm(cfg, {LocalPath{.id = 0, .addr = Ep(0)}}, true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  EXPECT_TRUE(pm.TakeActions().empty());
  pm.OnAddAddr(Ms(1), RemoteAddr{5, Ep(10, 80)});
  auto a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), (std::vector<PmActionKind>{PmActionKind::kEchoAddAddr, PmActionKind::kCreateSubflow}));
  EXPECT_EQ(a[1].remote_id, 5);
  EXPECT_EQ(a[1].remote, Ep(10, 80));
  pm.OnAddAddr(Ms(2), RemoteAddr{5, Ep(10, 80)});  // a repeat: echoed again, nothing new
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kEchoAddAddr});
  pm.OnAddAddr(Ms(3), RemoteAddr{6, Ep(11, 80)});  // over the limit
  EXPECT_EQ(Kinds(pm.TakeActions()), std::vector<PmActionKind>{PmActionKind::kEchoAddAddr});
  EXPECT_EQ(pm.counters().add_addr_ignored, 1u);
  pm.OnSubflowEstablished(Ms(4), 101, 0, 5, false);
  pm.OnRemoveAddr(Ms(5), 5);
  a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), std::vector<PmActionKind>{PmActionKind::kCloseSubflow});
  EXPECT_EQ(a[0].subflow, 101u);
}

TEST(MptcpConnPm, FlipsBackupAtRuntimeWithMpPrio) {
  PathManager pm(PmConfig{}, ThreePaths(), true);
  pm.OnEstablished(Ms(0), 100, 0, Ep(9, 80));
  pm.TakeActions();
  pm.OnSubflowEstablished(Ms(1), 101, 1, 0, true);
  pm.SetBackup(Ms(2), 1, false);
  auto a = pm.TakeActions();
  ASSERT_EQ(Kinds(a), std::vector<PmActionKind>{PmActionKind::kSetPrio});
  EXPECT_EQ(a[0].subflow, 101u);
  EXPECT_FALSE(a[0].backup);
  pm.SetBackup(Ms(3), 1, false);  // no change, no MP_PRIO
  EXPECT_TRUE(pm.TakeActions().empty());
  pm.SetBackup(Ms(4), 0, true);
  a = pm.TakeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].subflow, 100u);
  EXPECT_EQ(pm.counters().prio_changes, 2u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
