// Dataplane::MoveConnection: a live connection changes worker with no byte lost, repeated or
// reordered, in every state it can be in, and closing at the same moment is safe.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <set>
#include <thread>

#include "relay_harness.h"

namespace braid::relay {
namespace {

using test::Fd;
using test::HarnessOptions;
using test::PatternReader;
using test::PatternWriter;
using test::RelayHarness;
using test::WaitFor;

struct MoveTest : ::testing::Test {
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
};

// One connection through braid: the client's end, the target server's end and braid's id for it.
struct Link {
  Fd client;
  Fd server;
  uint64_t id = 0;
};

Link Open(RelayHarness& h) {
  Link l;
  l.client = h.Dial();
  l.server = h.AcceptUpstream();
  EXPECT_GE(l.server.fd, 0) << "braid never dialled the target";
  EXPECT_TRUE(WaitFor([&] { return (l.id = h.NextConnection()) != 0; }));
  return l;
}

TEST_F(MoveTest, StreamBothWaysSurvivesManyMoves) {
  RelayHarness h(HarnessOptions{.workers = 3});
  Link l = Open(h);
  std::atomic<bool> stop{false};
  PatternWriter up_w, down_w;
  PatternReader up_r, down_r;
  up_r.Start(l.server, 1);
  down_r.Start(l.client, 2);
  up_w.Start(l.client, 1, stop);
  down_w.Start(l.server, 2, stop);
  test::RaiseOnExit stop_anyway{stop};

  uint32_t completed = 0;
  uint64_t up_seen = 0, down_seen = 0;
  for (int i = 1; i <= 300; i++) {
    const uint32_t to = static_cast<uint32_t>(i % 3);
    if (i % 4 == 0) {
      // Now and then wait for one to land; in between, moves pile up and chase the connection.
      ASSERT_TRUE(h.MoveAndWait(l.id, to)) << "move " << i << " to worker " << to;
      completed++;
      // And for bytes to flow both ways since the last landing, so moves and data interleave.
      ASSERT_TRUE(WaitFor([&] { return up_r.read > up_seen && down_r.read > down_seen; })) << "stalled at move " << i;
      up_seen = up_r.read;
      down_seen = down_r.read;
    } else {
      ASSERT_TRUE(h.dp().MoveConnection(l.id, to)) << "move " << i;
    }
    if (up_w.failed || down_w.failed || up_r.failed || down_r.failed) break;
  }
  stop = true;
  up_w.Join();
  down_w.Join();
  up_r.Join();
  down_r.Join();

  EXPECT_FALSE(up_w.failed || down_w.failed || up_r.failed || down_r.failed) << "a side stalled or failed";
  EXPECT_TRUE(up_r.eof && down_r.eof);
  EXPECT_EQ(up_r.read.load(), up_w.written.load());
  EXPECT_EQ(down_r.read.load(), down_w.written.load());
  EXPECT_EQ(up_r.first_mismatch.load(), -1);
  EXPECT_EQ(down_r.first_mismatch.load(), -1);

  // Both directions finished: braid closes the connection, on the worker it ended up on.
  ConnectionStat last;
  ASSERT_TRUE(WaitFor([&] { return h.Closes(l.id).size() == 1; }));
  auto closes = h.Closes(l.id);
  EXPECT_EQ(closes[0].reason, CloseReason::kDone);
  EXPECT_EQ(closes[0].worker, 0u) << "the last move (300 % 3) went to worker 0";
  EXPECT_EQ(closes[0].bytes_up, up_w.written.load());
  EXPECT_EQ(closes[0].bytes_down, down_w.written.load());
  EXPECT_TRUE(WaitFor([&] { return h.dp().ActiveConnections() == 0; }));
  EXPECT_EQ(h.dp().ActiveConnections(h.listener_id()), 0u);
  DataplaneSnapshot snap = h.dp().Snapshot();
  EXPECT_GE(snap.migrations, completed);
  EXPECT_TRUE(snap.connections.empty());
  EXPECT_FALSE(h.dp().MoveConnection(l.id, 1)) << "a closed connection cannot move";
}

TEST_F(MoveTest, SnapshotShowsTheNewOwnerAndCountsMoves) {
  RelayHarness h;
  Link l = Open(h);
  ConnectionStat s;
  ASSERT_TRUE(h.Find(l.id, s));
  const uint32_t other = 1 - s.worker;
  EXPECT_EQ(s.migrations, 0u);
  ASSERT_TRUE(h.MoveAndWait(l.id, other));
  ASSERT_TRUE(h.Find(l.id, s));
  EXPECT_EQ(s.worker, other);
  EXPECT_EQ(s.migrations, 1u);
  EXPECT_TRUE(h.dp().MoveConnection(l.id, other)) << "already there: true, and nothing happens";
  ASSERT_TRUE(WaitFor([&] { return h.dp().Snapshot().migrations == 1; }));
  ASSERT_TRUE(h.Find(l.id, s));
  EXPECT_EQ(s.migrations, 1u);
  EXPECT_FALSE(h.dp().MoveConnection(l.id, 2)) << "no worker 2";
  EXPECT_FALSE(h.dp().MoveConnection(l.id + 1000, 0)) << "no such connection";
  EXPECT_EQ(h.dp().Snapshot().active, 1u) << "a move neither opens nor closes";
}

TEST_F(MoveTest, MovesWhileConnecting) {
  // The target's accept queue is full (backlog 0 plus one connection nobody accepts), so the
  // kernel drops braid's SYNs and braid's upstream socket stays in SYN-SENT.
  RelayHarness h(HarnessOptions{.workers = 2, .server_backlog = 0});
  Fd filler(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in target = test::Loopback(h.server_port());
  ASSERT_EQ(connect(filler, reinterpret_cast<sockaddr*>(&target), sizeof(target)), 0);

  Fd client = h.Dial();
  uint64_t id = 0;
  ASSERT_TRUE(WaitFor([&] { return (id = h.OnlyConnection()) != 0; }));
  ConnectionStat s;
  ASSERT_TRUE(h.Find(id, s));
  const uint32_t first_worker = s.worker;
  for (uint32_t i = 1; i <= 21; i++) {
    ASSERT_TRUE(h.Find(id, s));
    ASSERT_EQ(s.state, ConnState::kConnecting) << "move " << i << " happened after connecting";
    ASSERT_TRUE(h.MoveAndWait(id, (first_worker + i) % 2));
  }
  // Client bytes sent before the upstream exists wait in braid's client socket.
  const std::string hello = "hello before connect";
  ASSERT_EQ(send(client, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));

  // Room in the queue: braid's next SYN retransmission gets through, on the worker it moved to.
  Fd first = h.AcceptUpstream();
  ASSERT_GE(first.fd, 0);
  Fd server = h.AcceptUpstream();
  ASSERT_GE(server.fd, 0) << "braid's connect never completed after the moves";
  ASSERT_TRUE(WaitFor([&] { return h.Find(id, s) && s.state == ConnState::kRelaying; }));
  EXPECT_EQ(s.worker, 1 - first_worker);
  EXPECT_EQ(s.migrations, 21u);

  std::string got(hello.size(), '\0');
  ASSERT_EQ(recv(server, got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, hello);
  const std::string reply = "and after";
  ASSERT_EQ(send(server, reply.data(), reply.size(), MSG_NOSIGNAL), static_cast<ssize_t>(reply.size()));
  got.assign(reply.size(), '\0');
  ASSERT_EQ(recv(client, got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, reply);
  bool established = false;
  for (const auto& e : h.Events()) established = established || (e.type == Event::Type::kEstablished && e.conn_id == id);
  EXPECT_TRUE(established);
}

TEST_F(MoveTest, MovesHalfClosedConnection) {
  RelayHarness h;
  Link l = Open(h);
  // Client -> server: a stream, then EOF.
  std::atomic<bool> never{false};
  PatternWriter up_w;
  PatternReader up_r;
  up_r.Start(l.server, 3);
  up_w.Start(l.client, 3, never, 3 * 1024 * 1024 + 5);
  up_w.Join();
  up_r.Join();
  ASSERT_TRUE(up_r.eof);
  ASSERT_EQ(up_r.read.load(), up_w.written.load());
  EXPECT_EQ(up_r.first_mismatch.load(), -1);
  ConnectionStat s;
  ASSERT_TRUE(WaitFor([&] { return h.Find(l.id, s) && s.state == ConnState::kHalfClosed; }));

  // Server -> client keeps flowing while the half-closed connection moves.
  std::atomic<bool> stop{false};
  PatternWriter down_w;
  PatternReader down_r;
  down_r.Start(l.client, 4);
  down_w.Start(l.server, 4, stop);
  test::RaiseOnExit stop_anyway{stop};
  uint64_t seen = 0;
  for (int i = 1; i <= 40; i++) {
    ASSERT_TRUE(h.MoveAndWait(l.id, static_cast<uint32_t>((s.worker + i) % 2))) << "move " << i;
    ASSERT_TRUE(h.Find(l.id, s));
    EXPECT_EQ(s.state, ConnState::kHalfClosed);
    ASSERT_TRUE(WaitFor([&] { return down_r.read > seen; })) << "stalled after move " << i;
    seen = down_r.read;
  }
  stop = true;
  down_w.Join();
  down_r.Join();
  EXPECT_FALSE(down_w.failed || down_r.failed);
  EXPECT_TRUE(down_r.eof);
  EXPECT_EQ(down_r.read.load(), down_w.written.load());
  EXPECT_EQ(down_r.first_mismatch.load(), -1);
  ASSERT_TRUE(WaitFor([&] { return h.Closes(l.id).size() == 1; }));
  EXPECT_EQ(h.Closes(l.id)[0].reason, CloseReason::kDone);
  EXPECT_EQ(h.Closes(l.id)[0].bytes_up, up_w.written.load());
  EXPECT_TRUE(WaitFor([&] { return h.dp().ActiveConnections() == 0; }));
}

TEST_F(MoveTest, MovesRacingCloseAreSafe) {
  RelayHarness h;
  std::set<uint64_t> ids;
  for (int round = 0; round < 40; round++) {
    Link l = Open(h);
    ASSERT_NE(l.id, 0u);
    ids.insert(l.id);
    std::atomic<bool> go{false};
    std::thread mover([&] {
      while (!go) std::this_thread::yield();
      // Keep asking until braid says the connection is gone.
      for (int i = 0; i < 100000 && h.dp().MoveConnection(l.id, static_cast<uint32_t>(i % 2)); i++) {
      }
    });
    const char byte = 'x';
    (void)send(l.server, &byte, 1, MSG_NOSIGNAL);
    go = true;
    if (round % 2 == 0) {
      l.client.reset();  // FIN from the client, then the server's
      l.server.reset();
    } else {
      linger lg{1, 0};  // reset from the server
      setsockopt(l.server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      l.server.reset();
      l.client.reset();
    }
    mover.join();
    ASSERT_TRUE(WaitFor([&] { return h.dp().ActiveConnections() == 0; })) << "round " << round;
  }
  EXPECT_EQ(h.dp().ActiveConnections(h.listener_id()), 0u);
  for (uint64_t id : ids) {
    EXPECT_EQ(h.Closes(id).size(), 1u) << "connection " << id << " must close exactly once";
    EXPECT_FALSE(h.dp().MoveConnection(id, 0));
  }
  EXPECT_TRUE(h.dp().Snapshot().connections.empty());
}

TEST_F(MoveTest, ShutdownWithMovesInFlightReportsEveryConnection) {
  std::vector<uint64_t> ids;
  auto h = std::make_unique<RelayHarness>();
  std::vector<Link> links;
  for (int i = 0; i < 8; i++) {
    links.push_back(Open(*h));
    ids.push_back(links.back().id);
  }
  for (int i = 0; i < 200; i++) h->dp().MoveConnection(ids[i % ids.size()], static_cast<uint32_t>(i % 2));
  h->dp().Close();  // joins the workers: moves still queued must not drop a connection
  for (uint64_t id : ids) EXPECT_EQ(h->Closes(id).size(), 1u) << "connection " << id;
  EXPECT_EQ(h->dp().ActiveConnections(), 0u);
}

}  // namespace
}  // namespace braid::relay
