#include "kernel/subflow_manager.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace braid::kernel {
namespace {

PmAddress V4(const char* text, uint16_t port = 0) {
  PmAddress a;
  a.family = AF_INET;
  inet_pton(AF_INET, text, a.addr.data());
  a.port = port;
  return a;
}

std::string Text(const PmAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family, a.addr.data(), buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(a.port);
}

// Records every command; fails creates while `fail_creates` is set.
struct RecordingActions : PmActions {
  std::vector<std::string> log;
  bool fail_creates = false;
  int Announce(uint32_t token, uint8_t id, const PmAddress& local) override {
    log.push_back("announce " + std::to_string(token) + " id" + std::to_string(id) + " " + Text(local));
    return 0;
  }
  int CreateSubflow(uint32_t token, uint8_t id, const PmAddress& local, int32_t ifindex, bool backup,
                    const PmAddress& remote) override {
    log.push_back("create " + std::to_string(token) + " id" + std::to_string(id) + " " + Text(local) + " if" +
                  std::to_string(ifindex) + (backup ? " backup" : "") + " -> " + Text(remote));
    return fail_creates ? ENETUNREACH : 0;
  }
  int DestroySubflow(uint32_t token, const PmAddress& local, const PmAddress& remote) override {
    log.push_back("destroy " + std::to_string(token) + " " + Text(local) + " -> " + Text(remote));
    return 0;
  }
  // Routes as in the test bed: 198.18.1.0/24 on ifindex 11, 198.18.2.0/24 on 12.
  int32_t RouteInterface(const PmAddress& remote) override { return remote.addr[2] == 1 ? 11 : remote.addr[2] == 2 ? 12 : 0; }
  int SetBackup(uint32_t token, const PmAddress& local, const PmAddress& remote, bool backup) override {
    log.push_back(std::string(backup ? "backup " : "active ") + std::to_string(token) + " " + Text(local) + " -> " +
                  Text(remote));
    return 0;
  }
};

std::vector<PmPath> TwoPaths() {
  PmPath a;
  a.id = 1;
  a.name = "a";
  a.ifindex = 11;
  a.addresses = {V4("198.18.1.1")};
  PmPath b;
  b.id = 2;
  b.name = "b";
  b.ifindex = 12;
  b.addresses = {V4("198.18.2.1")};
  return {a, b};
}

PmEvent Established(uint32_t token, bool server_side) {
  PmEvent ev;
  ev.type = PmEventType::kEstablished;
  ev.token = token;
  ev.server_side = server_side;
  ev.has_local = ev.has_remote = true;
  ev.local = server_side ? V4("198.18.1.1", 5201) : V4("198.18.1.1", 40000);
  ev.remote = server_side ? V4("198.18.1.2", 40000) : V4("198.18.1.2", 5201);
  return ev;
}

PmEvent Sub(PmEventType type, uint32_t token, const char* local, uint16_t lport, const char* remote, uint16_t rport) {
  PmEvent ev;
  ev.type = type;
  ev.token = token;
  ev.has_local = ev.has_remote = true;
  ev.local = V4(local, lport);
  ev.remote = V4(remote, rport);
  return ev;
}

TEST(SubflowManager, ClientOpensOneSubflowPerOtherPathTowardsTheClosestPeerAddress) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.OnEvent(Established(7, false), 0);
  ASSERT_EQ(act.log.size(), 1u);
  EXPECT_EQ(act.log[0], "create 7 id2 198.18.2.1:0 if12 -> 198.18.1.2:5201");
  // The create to the initial address fails later; the peer announced one on path b's subnet.
  PmEvent ann;
  ann.type = PmEventType::kAnnounced;
  ann.token = 7;
  ann.rem_id = 3;
  ann.has_remote = true;
  ann.remote = V4("198.18.2.2");
  m.OnEvent(ann, 10);
  EXPECT_EQ(act.log.size(), 1u) << "a create is in flight on path b: no second one";
  m.OnEvent(Sub(PmEventType::kSubClosed, 7, "198.18.2.1", 41000, "198.18.1.2", 5201), 20);
  m.Tick(20 + SubflowManager::kRetryFirstMs);
  ASSERT_EQ(act.log.size(), 2u);
  EXPECT_EQ(act.log[1], "create 7 id2 198.18.2.1:0 if12 -> 198.18.2.2:5201");
}

TEST(SubflowManager, ServerAnnouncesItsOtherPathsAndOpensNothing) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.OnEvent(Established(9, true), 0);
  ASSERT_EQ(act.log.size(), 1u);
  EXPECT_EQ(act.log[0], "announce 9 id2 198.18.2.1:0");
  m.Tick(100000);
  EXPECT_EQ(act.log.size(), 1u);
}

TEST(SubflowManager, LostSubflowIsRecreatedWithBackoffAndCounted) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.OnEvent(Established(7, false), 0);
  m.OnEvent(Sub(PmEventType::kSubEstablished, 7, "198.18.2.1", 41000, "198.18.2.2", 5201), 5);
  m.OnEvent(Sub(PmEventType::kSubClosed, 7, "198.18.2.1", 41000, "198.18.2.2", 5201), 1000);
  act.fail_creates = true;
  m.Tick(1000 + SubflowManager::kRetryFirstMs);  // fails: next try twice as late
  EXPECT_EQ(m.counters().subflow_create_errors, 1u);
  size_t before = act.log.size();
  m.Tick(1000 + SubflowManager::kRetryFirstMs + SubflowManager::kRetryFirstMs);
  EXPECT_EQ(act.log.size(), before) << "backoff doubled: too early";
  act.fail_creates = false;
  m.Tick(1000 + SubflowManager::kRetryFirstMs + 2 * SubflowManager::kRetryFirstMs);
  EXPECT_EQ(act.log.size(), before + 1);
  m.OnEvent(Sub(PmEventType::kSubEstablished, 7, "198.18.2.1", 41001, "198.18.2.2", 5201), 3000);
  EXPECT_EQ(m.counters().subflows_recreated, 1u);
}

TEST(SubflowManager, LinkDownDestroysItsSubflowsAndLinkUpReopensAtOnce) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.OnEvent(Established(7, false), 0);
  m.OnEvent(Sub(PmEventType::kSubEstablished, 7, "198.18.2.1", 41000, "198.18.2.2", 5201), 5);
  act.log.clear();
  m.OnLink(12, false, 100);
  ASSERT_EQ(act.log.size(), 1u);
  EXPECT_EQ(act.log[0], "destroy 7 198.18.2.1:41000 -> 198.18.2.2:5201");
  m.Tick(20000);
  EXPECT_EQ(act.log.size(), 1u) << "no create while the link is down";
  m.OnLink(12, true, 20100);
  ASSERT_EQ(act.log.size(), 2u);
  EXPECT_EQ(act.log[1], "create 7 id2 198.18.2.1:0 if12 -> 198.18.1.2:5201");
}

TEST(SubflowManager, PreferenceFlagsTheOtherPathsBackupAndFailsOverWhenTheLinkDies) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.SetPreference(9, {{2}, {1}}, 0);  // before the connection is known: kept
  m.OnEvent(Established(9, true), 1);
  act.log.clear();
  m.OnEvent(Sub(PmEventType::kSubEstablished, 9, "198.18.2.1", 5201, "198.18.2.2", 40001), 2);
  ASSERT_EQ(act.log.size(), 1u);
  EXPECT_EQ(act.log[0], "backup 9 198.18.1.1:5201 -> 198.18.1.2:40000");
  m.OnLink(12, false, 3);
  EXPECT_EQ(act.log.back(), "active 9 198.18.1.1:5201 -> 198.18.1.2:40000");
  // Preference moves (the application moved): path a now, b backup once it is back.
  m.SetPreference(9, {{1}, {2}}, 4);
  m.OnLink(12, true, 5);
  m.OnEvent(Sub(PmEventType::kSubEstablished, 9, "198.18.2.1", 5201, "198.18.2.2", 40002), 6);
  EXPECT_EQ(act.log.back(), "backup 9 198.18.2.1:5201 -> 198.18.2.2:40002");
  auto conns = m.Connections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].active_paths, std::vector<uint8_t>{1});
}

TEST(SubflowManager, SubflowIsOnTheLinkItsRemoteIsRoutedOverWhateverItsLocalAddress) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.SetPreference(9, {{1}, {2}}, 0);
  m.OnEvent(Established(9, true), 1);
  // The peer joined from its path-b address to this node's path-a address: it arrived over b.
  m.OnEvent(Sub(PmEventType::kSubEstablished, 9, "198.18.1.1", 5201, "198.18.2.2", 40001), 2);
  auto conns = m.Connections();
  ASSERT_EQ(conns[0].subflows.size(), 2u);
  EXPECT_EQ(conns[0].subflows[1].path, 2);
  EXPECT_EQ(act.log.back(), "backup 9 198.18.1.1:5201 -> 198.18.2.2:40001");
}

TEST(SubflowManager, ClosedConnectionIsForgotten) {
  RecordingActions act;
  SubflowManager m(TwoPaths(), act);
  m.OnEvent(Established(7, false), 0);
  PmEvent closed;
  closed.type = PmEventType::kClosed;
  closed.token = 7;
  m.OnEvent(closed, 1);
  EXPECT_TRUE(m.Connections().empty());
  EXPECT_EQ(m.NextDeadline(), INT64_MAX);
}

}  // namespace
}  // namespace braid::kernel
