// What the NUMA control loop reads from and asks of the data plane: workers pinned to CPUs (as
// the kernel reports it for their threads), and per-connection MPTCP token and application-side
// addresses.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "kernel/mptcp_sockopt.h"
#include "relay_harness.h"

namespace braid::relay {
namespace {

using test::Fd;
using test::HarnessOptions;
using test::RelayHarness;
using test::WaitFor;

std::vector<int> AffinityOf(int tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(tid, sizeof(set), &set) != 0) return {-errno};
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

// One round trip through braid on `client`/`server`.
void Echo(int client, int server, const std::string& what) {
  ASSERT_EQ(send(client, what.data(), what.size(), MSG_NOSIGNAL), static_cast<ssize_t>(what.size()));
  std::string got(what.size(), '\0');
  ASSERT_EQ(recv(server, got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, what);
  ASSERT_EQ(send(server, what.data(), what.size(), MSG_NOSIGNAL), static_cast<ssize_t>(what.size()));
  ASSERT_EQ(recv(client, got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, what);
}

std::string Capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  pclose(p);
  return out;
}

struct NumaTest : ::testing::Test {
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
};

TEST_F(NumaTest, WorkersArePinnedAndABadPinLeavesTheWorkerRunning) {
  const std::vector<int> allowed = AffinityOf(0);
  if (std::find(allowed.begin(), allowed.end(), 0) == allowed.end() ||
      std::find(allowed.begin(), allowed.end(), 1) == allowed.end())
    GTEST_SKIP() << "needs CPUs 0 and 1 in this process's affinity";
  // 0: CPU 0; 1: CPU 1; 2: a CPU that does not exist; 3: one good, one bad; 4: negative; 5: none.
  RelayHarness h(HarnessOptions{.workers = 6, .worker_cpus = {{0}, {1}, {4000}, {1, 4000}, {-1}, {}}});
  DataplaneSnapshot snap = h.dp().Snapshot();
  ASSERT_EQ(snap.workers.size(), 6u);
  std::sort(snap.workers.begin(), snap.workers.end(), [](auto& a, auto& b) { return a.index < b.index; });
  for (uint32_t i = 0; i < 6; i++) {
    ASSERT_EQ(snap.workers[i].index, i);
    ASSERT_GT(snap.workers[i].tid, 0);
    EXPECT_EQ(snap.workers[i].cpus, AffinityOf(snap.workers[i].tid)) << "worker " << i << " reports its own affinity";
  }
  EXPECT_EQ(AffinityOf(snap.workers[0].tid), std::vector<int>{0});
  EXPECT_EQ(snap.workers[0].pin_errno, 0);
  EXPECT_EQ(AffinityOf(snap.workers[1].tid), std::vector<int>{1});
  EXPECT_EQ(snap.workers[1].pin_errno, 0);
  EXPECT_EQ(AffinityOf(snap.workers[2].tid), allowed) << "a failed pin runs unpinned";
  EXPECT_EQ(snap.workers[2].pin_errno, EINVAL);
  EXPECT_EQ(AffinityOf(snap.workers[3].tid), std::vector<int>{1}) << "the CPUs that exist are used";
  EXPECT_EQ(snap.workers[3].pin_errno, 0);
  EXPECT_EQ(snap.workers[4].pin_errno, EINVAL);
  EXPECT_EQ(AffinityOf(snap.workers[4].tid), allowed);
  EXPECT_EQ(AffinityOf(snap.workers[5].tid), allowed);
  EXPECT_EQ(snap.workers[5].pin_errno, 0);

  // The worker whose pin failed still relays: move a connection onto it and through each pinned one.
  Fd client = h.Dial();
  Fd server = h.AcceptUpstream();
  ASSERT_GE(server.fd, 0);
  uint64_t id = 0;
  ASSERT_TRUE(WaitFor([&] { return (id = h.OnlyConnection()) != 0; }));
  for (uint32_t w : {2u, 0u, 1u, 2u}) {
    ASSERT_TRUE(h.MoveAndWait(id, w)) << "worker " << w;
    Echo(client, server, "via worker " + std::to_string(w));
  }
}

TEST_F(NumaTest, ForwardConnectionNamesTheApplicationSocket) {
  RelayHarness h;
  Fd client = h.Dial();
  Fd server = h.AcceptUpstream();
  ASSERT_GE(server.fd, 0);
  uint64_t id = 0;
  ASSERT_TRUE(WaitFor([&] { return (id = h.OnlyConnection()) != 0; }));
  ConnectionStat s;
  ASSERT_TRUE(WaitFor([&] { return h.Find(id, s) && s.state == ConnState::kRelaying; }));
  // The application is the client: braid's accepted socket sees it as its peer.
  EXPECT_EQ(s.app_local, test::PeerOf(client));
  EXPECT_EQ(s.app_remote, test::LocalOf(client));
  EXPECT_EQ(s.app_local, "127.0.0.1:" + std::to_string(h.listen_port()));
  EXPECT_EQ(s.token, 0u) << "plain TCP upstream: no token";
  EXPECT_EQ(s.outcome, Outcome::kTcp);
}

TEST_F(NumaTest, InboundConnectionNamesTheDialledTarget) {
  RelayHarness h(HarnessOptions{.mode = ListenerMode::kInbound});
  Fd client = h.Dial();
  Fd server = h.AcceptUpstream();
  ASSERT_GE(server.fd, 0);
  uint64_t id = 0;
  ASSERT_TRUE(WaitFor([&] { return (id = h.OnlyConnection()) != 0; }));
  ConnectionStat s;
  ASSERT_TRUE(WaitFor([&] { return h.Find(id, s) && s.state == ConnState::kRelaying; }));
  // The application is the local target: braid's dialled socket is the other end of `server`.
  EXPECT_EQ(s.app_local, test::PeerOf(server));
  EXPECT_EQ(s.app_remote, test::LocalOf(server));
  EXPECT_EQ(s.app_remote, "127.0.0.1:" + std::to_string(h.server_port()));
}

TEST_F(NumaTest, MptcpUpstreamCarriesItsToken) {
  int probe = socket(AF_INET, SOCK_STREAM, kernel::kIpprotoMptcp);
  if (probe < 0) GTEST_SKIP() << "no MPTCP sockets here";
  close(probe);
  RelayHarness h(HarnessOptions{.target_protocol = Protocol::kMptcp, .server_protocol = kernel::kIpprotoMptcp});
  Fd client = h.Dial();
  Fd server = h.AcceptUpstream();
  ASSERT_GE(server.fd, 0);
  uint64_t id = 0;
  ASSERT_TRUE(WaitFor([&] { return (id = h.OnlyConnection()) != 0; }));
  ConnectionStat s;
  ASSERT_TRUE(WaitFor([&] { return h.Find(id, s) && s.state == ConnState::kRelaying; }));
  ASSERT_EQ(s.outcome, Outcome::kMptcp);
  EXPECT_NE(s.token, 0u);
  // ss(8) reads the token over sock_diag, independently of our getsockopt.
  const std::string port = test::PeerOf(server).substr(test::PeerOf(server).rfind(':') + 1);
  const std::string ss = Capture("ss -HMni sport = :" + port + " 2>/dev/null");
  char hex[16];
  snprintf(hex, sizeof(hex), "%x", s.token);
  if (!ss.empty()) EXPECT_NE(ss.find(std::string("token:") + hex + " "), std::string::npos) << ss;
  const uint32_t token = s.token;
  ASSERT_TRUE(h.MoveAndWait(id, 1 - s.worker));
  ASSERT_TRUE(h.Find(id, s));
  EXPECT_EQ(s.token, token) << "the token names the connection, wherever it is relayed";
  Echo(client, server, "mptcp after a move");
}

}  // namespace
}  // namespace braid::relay
