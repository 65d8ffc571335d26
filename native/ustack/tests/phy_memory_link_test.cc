#include "ustack/phy/memory_link.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::ustack {
namespace {

std::vector<std::uint8_t> Frame(std::uint8_t tag, std::size_t len = 60) { return std::vector<std::uint8_t>(len, tag); }

// Tags of the frames `dev` hands out at `now`.
std::vector<std::uint8_t> Drain(Device& dev, Instant now) {
  std::vector<std::uint8_t> tags;
  dev.Receive(now, 1000, [&](std::span<const std::uint8_t> f) { tags.push_back(f[0]); });
  return tags;
}

TEST(PhyMemoryLink, DeliversInOrderAfterTheDelay) {
  MemoryLink::Options o;
  o.a_to_b.delay = Duration::Millis(5);
  MemoryLink link(o);
  for (std::uint8_t i = 1; i <= 3; ++i) EXPECT_TRUE(link.a().Transmit(Instant::FromMillis(0), Frame(i)));
  EXPECT_TRUE(Drain(link.b(), Instant::FromMillis(4)).empty());
  ASSERT_TRUE(link.NextArrival());
  EXPECT_EQ(*link.NextArrival(), Instant::FromMillis(5));
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(5)), (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_TRUE(Drain(link.a(), Instant::FromMillis(5)).empty());  // nothing came back
  EXPECT_EQ(link.stats_a_to_b().delivered, 3u);
  EXPECT_FALSE(link.NextArrival());
}

TEST(PhyMemoryLink, ReceiveHonoursMax) {
  MemoryLink link(MemoryLink::Options{});
  for (std::uint8_t i = 1; i <= 3; ++i) link.b().Transmit(Instant{}, Frame(i));
  std::size_t n = link.a().Receive(Instant{}, 2, [](std::span<const std::uint8_t>) {});
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(Drain(link.a(), Instant{}), (std::vector<std::uint8_t>{3}));
}

std::vector<std::uint8_t> RunLossy(std::uint64_t seed) {
  MemoryLink::Options o;
  o.seed = seed;
  o.a_to_b.loss = 0.3;
  MemoryLink link(o);
  for (int i = 0; i < 200; ++i) link.a().Transmit(Instant{}, Frame(static_cast<std::uint8_t>(i)));
  return Drain(link.b(), Instant{});
}

TEST(PhyMemoryLink, LossIsSeededAndCounted) {
  const auto first = RunLossy(7);
  EXPECT_EQ(first, RunLossy(7));
  EXPECT_NE(first, RunLossy(8));
  EXPECT_GT(first.size(), 100u);
  EXPECT_LT(first.size(), 180u);
  MemoryLink::Options o;
  o.a_to_b.loss = 1.0;
  MemoryLink link(o);
  link.a().Transmit(Instant{}, Frame(1));
  EXPECT_TRUE(Drain(link.b(), Instant{}).empty());
  EXPECT_EQ(link.stats_a_to_b().lost, 1u);
}

TEST(PhyMemoryLink, DuplicatesArriveTwice) {
  MemoryLink::Options o;
  o.a_to_b.duplicate = 1.0;
  MemoryLink link(o);
  link.a().Transmit(Instant{}, Frame(9));
  EXPECT_EQ(Drain(link.b(), Instant{}), (std::vector<std::uint8_t>{9, 9}));
  EXPECT_EQ(link.stats_a_to_b().duplicated, 1u);
}

TEST(PhyMemoryLink, ReorderedFramesAreOvertaken) {
  MemoryLink::Options o;
  o.a_to_b.reorder_delay = Duration::Millis(2);
  MemoryLink link(o);
  link.set_faults_a_to_b(LinkFaults{.reorder = 1.0, .reorder_delay = Duration::Millis(2)});
  link.a().Transmit(Instant::FromMillis(0), Frame(1));
  link.set_faults_a_to_b(LinkFaults{});
  link.a().Transmit(Instant::FromMillis(1), Frame(2));
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(1)), (std::vector<std::uint8_t>{2}));
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(2)), (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(link.stats_a_to_b().reordered, 1u);
}

TEST(PhyMemoryLink, RateLimitSerializesAndTailDrops) {
  MemoryLink::Options o;
  o.a_to_b.rate_bps = 8'000'000;  // 1000 bytes take 1 ms
  o.a_to_b.queue_limit = 2;
  MemoryLink link(o);
  for (std::uint8_t i = 1; i <= 4; ++i) link.a().Transmit(Instant{}, Frame(i, 1000));
  // Frame 1 is on the wire, 2 and 3 wait, 4 finds the queue full.
  EXPECT_EQ(link.stats_a_to_b().queue_drops, 1u);
  EXPECT_EQ(Drain(link.b(), Instant{999}), std::vector<std::uint8_t>{});
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(1)), (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(2)), (std::vector<std::uint8_t>{2}));
  // At 2 ms frame 3 is on the wire and the queue has room again.
  EXPECT_TRUE(link.a().Transmit(Instant::FromMillis(2), Frame(5, 1000)));
  EXPECT_EQ(Drain(link.b(), Instant::FromMillis(4)), (std::vector<std::uint8_t>{3, 5}));
  EXPECT_EQ(link.stats_a_to_b().queue_drops, 1u);
}

TEST(PhyMemoryLink, ReplyFromInsideReceiveIsSafe) {
  MemoryLink link(MemoryLink::Options{});
  link.a().Transmit(Instant{}, Frame(1));
  link.b().Receive(Instant{}, 10, [&](std::span<const std::uint8_t>) { link.b().Transmit(Instant{}, Frame(2)); });
  EXPECT_EQ(Drain(link.a(), Instant{}), (std::vector<std::uint8_t>{2}));
}

}  // namespace
}  // namespace braid::ustack
