#include "relay/pump.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>
#include <string>
#include <vector>

#include "relay/pipe_pool.h"
#include "socket_pair.h"

namespace braid::relay {
namespace {

using test::TcpPair;

// Source side: the test writes into src.a; the pump reads src.b. Destination: pump writes dst.a;
// the test reads dst.b.
struct PumpTest : ::testing::Test {
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
  TcpPair src, dst;
  PipePool pool{64 * 1024, 4};
  Direction d;

  void TearDown() override { pool.Release(d.pipe, !d.splicing || d.pending == 0); }

  std::string Payload(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + (i * 7) % 26);
    return s;
  }
  void WriteAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n > 0) off += static_cast<size_t>(n);
      else {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
      }
    }
  }
  // Runs the pump and drains dst.b until EOF on dst.b or no progress.
  std::string RelayAll(size_t expect, bool expect_eof) {
    std::string got;
    char buf[65536];
    bool eof = false;
    int err = 0;
    for (int rounds = 0; rounds < 10000 && !(got.size() >= expect && (!expect_eof || eof)); rounds++) {
      PumpStatus st = Pump(src.b, dst.a, d, pool, 1 << 20, err);
      EXPECT_NE(st, PumpStatus::kFailed) << "errno " << err;
      ssize_t n = recv(dst.b, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0) eof = true;
      if (n < 0) {
        pollfd p{dst.b, POLLIN, 0};
        poll(&p, 1, 5);
      }
    }
    EXPECT_EQ(eof, expect_eof);
    return got;
  }
};

TEST_F(PumpTest, MovesBytesAndTurnsEofIntoShutdown) {
  const std::string data = Payload(3 * 1024 * 1024 + 17);
  std::thread writer([&] {
    WriteAll(src.a, data);
    shutdown(src.a, SHUT_WR);
  });
  std::string got = RelayAll(data.size(), true);
  writer.join();
  EXPECT_EQ(got, data);
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(d.bytes, data.size());
  EXPECT_GE(d.splice_switches, 1u) << "a bulk stream moves by splice";
}

TEST_F(PumpTest, SmallMessagesAreCopiedWithoutAPipe) {
  const std::string msg = Payload(300);
  int err = 0;
  for (int i = 0; i < 50; i++) {
    WriteAll(src.a, msg);
    pollfd p{src.b, POLLIN, 0};
    poll(&p, 1, 1000);
    EXPECT_EQ(Pump(src.b, dst.a, d, pool, 1 << 20, err), PumpStatus::kWouldBlock);
    char buf[1024];
    pollfd q{dst.b, POLLIN, 0};
    poll(&q, 1, 1000);
    ASSERT_EQ(recv(dst.b, buf, sizeof(buf), 0), static_cast<ssize_t>(msg.size()));
  }
  EXPECT_EQ(d.splice_switches, 0u);
  EXPECT_FALSE(d.pipe.valid());
}

TEST_F(PumpTest, BulkThenSmallGoesBackToCopying) {
  const std::string bulk = Payload(2 * 1024 * 1024);
  std::thread writer([&] { WriteAll(src.a, bulk); });
  std::string got = RelayAll(bulk.size(), false);
  writer.join();
  ASSERT_EQ(got, bulk);
  ASSERT_TRUE(d.splicing);
  int err = 0;
  for (int i = 0; i < kShortSplicesToCopy + 2; i++) {
    WriteAll(src.a, "ping");
    pollfd p{src.b, POLLIN, 0};
    poll(&p, 1, 1000);
    Pump(src.b, dst.a, d, pool, 1 << 20, err);
    char buf[16];
    pollfd q{dst.b, POLLIN, 0};
    poll(&q, 1, 1000);
    ASSERT_EQ(recv(dst.b, buf, sizeof(buf), 0), 4);
  }
  EXPECT_FALSE(d.splicing);
}

TEST_F(PumpTest, HalfCloseLeavesTheOtherDirectionOpen) {
  shutdown(src.a, SHUT_WR);
  RelayAll(0, true);
  // dst.a was shut for writing only: the far end can still send back through it.
  ASSERT_EQ(send(dst.b, "reply", 5, MSG_NOSIGNAL), 5);
  char buf[8];
  pollfd p{dst.a, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  EXPECT_EQ(recv(dst.a, buf, sizeof(buf), 0), 5);
}

TEST_F(PumpTest, StopsReadingWhenDestinationIsFull) {
  int small = 16 * 1024;
  setsockopt(dst.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(dst.b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const std::string data = Payload(8 * 1024 * 1024);
  std::thread writer([&] { WriteAll(src.a, data); });
  int err = 0;
  PumpStatus st = PumpStatus::kYield;
  for (int i = 0; i < 200 && st != PumpStatus::kWouldBlock; i++) st = Pump(src.b, dst.a, d, pool, 1 << 30, err);
  EXPECT_EQ(st, PumpStatus::kWouldBlock);
  // Nobody reads dst.b: what left src is bounded by one pipe plus the destination's buffers.
  EXPECT_LT(d.bytes + d.pending, 2u * 1024 * 1024);
  std::string got = RelayAll(data.size(), false);
  writer.join();
  EXPECT_EQ(got, data);
}

TEST_F(PumpTest, ResetOfDestinationFailsThePump) {
  linger lg{1, 0};
  setsockopt(dst.b, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(dst.b);
  dst.b = -1;
  usleep(20000);
  WriteAll(src.a, Payload(256 * 1024));
  int err = 0;
  PumpStatus st = PumpStatus::kYield;
  for (int i = 0; i < 100 && st != PumpStatus::kFailed; i++) {
    st = Pump(src.b, dst.a, d, pool, 1 << 20, err);
    usleep(1000);
  }
  EXPECT_EQ(st, PumpStatus::kFailed);
  EXPECT_TRUE(err == ECONNRESET || err == EPIPE) << err;
}

TEST_F(PumpTest, CopiesBulkWhenSpliceIsRefused) {
  d.splice_refused = true;  // as after EINVAL from splice or no fd left for a pipe
  const std::string data = Payload(1024 * 1024 + 3);
  std::thread writer([&] {
    WriteAll(src.a, data);
    shutdown(src.a, SHUT_WR);
  });
  std::string got = RelayAll(data.size(), true);
  writer.join();
  EXPECT_EQ(d.splice_switches, 0u);
  EXPECT_EQ(got, data);
}

TEST_F(PumpTest, YieldsAfterItsBudget) {
  const std::string data = Payload(2 * 1024 * 1024);
  std::thread writer([&] { WriteAll(src.a, data); });
  std::thread reader([&] {
    char buf[65536];
    size_t total = 0;
    while (total < data.size()) {
      ssize_t n = recv(dst.b, buf, sizeof(buf), 0);
      if (n > 0) total += static_cast<size_t>(n);
      else if (n < 0 && errno == EAGAIN) usleep(100);
      else break;
    }
  });
  int err = 0;
  bool yielded = false;
  for (int i = 0; i < 100000 && d.bytes < data.size(); i++) {
    if (Pump(src.b, dst.a, d, pool, 128 * 1024, err) == PumpStatus::kYield) yielded = true;
  }
  writer.join();
  reader.join();
  EXPECT_TRUE(yielded);
  EXPECT_EQ(d.bytes, data.size());
}

}  // namespace
}  // namespace braid::relay
