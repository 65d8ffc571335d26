#include "ustack/iface/neighbor_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::ustack {
namespace {

const MacAddress kMac{0x02, 0, 0, 0, 0, 1};
const std::vector<std::uint8_t> kPacket{1, 2, 3};

TEST(IfaceNeighborCache, QueuesUntilLearnedThenReleases) {
  NeighborCache c;
  const IpAddress ip = IpAddress::V4(198, 18, 0, 1);
  EXPECT_EQ(c.Enqueue(Instant{}, ip, kPacket), NeighborCache::EnqueueResult::kProbeNow);
  EXPECT_EQ(c.Enqueue(Instant{}, ip, kPacket), NeighborCache::EnqueueResult::kQueued);
  EXPECT_FALSE(c.Lookup(Instant{}, ip));
  auto released = c.Learn(Instant{10}, ip, kMac);
  EXPECT_EQ(released.size(), 2u);
  EXPECT_EQ(c.Lookup(Instant{10}, ip), kMac);
}

TEST(IfaceNeighborCache, PendingQueueIsBounded) {
  NeighborCache c(NeighborCacheOptions{.max_pending = 2});
  const IpAddress ip = IpAddress::V4(198, 18, 0, 1);
  c.Enqueue(Instant{}, ip, kPacket);
  c.Enqueue(Instant{}, ip, kPacket);
  EXPECT_EQ(c.Enqueue(Instant{}, ip, kPacket), NeighborCache::EnqueueResult::kFull);
}

TEST(IfaceNeighborCache, EntriesExpireAndResolveAgain) {
  NeighborCache c(NeighborCacheOptions{.reachable_time = Duration::Millis(10)});
  const IpAddress ip = IpAddress::V4(198, 18, 0, 1);
  c.Learn(Instant{}, ip, kMac);
  EXPECT_TRUE(c.Lookup(Instant::FromMillis(9), ip));
  EXPECT_FALSE(c.Lookup(Instant::FromMillis(10), ip));
  EXPECT_EQ(c.Enqueue(Instant::FromMillis(10), ip, kPacket), NeighborCache::EnqueueResult::kProbeNow);
}

TEST(IfaceNeighborCache, ProbesThenGivesUp) {
  NeighborCache c(NeighborCacheOptions{.retransmit = Duration::Millis(100), .max_probes = 2});
  const IpAddress ip = IpAddress::V4(198, 18, 0, 1);
  c.Enqueue(Instant{}, ip, kPacket);
  int probes = 0;
  auto probe = [&](const IpAddress&) { ++probes; };
  EXPECT_EQ(c.Tick(Instant::FromMillis(99), probe), 0u);
  EXPECT_EQ(probes, 0);
  EXPECT_EQ(c.Tick(Instant::FromMillis(100), probe), 0u);
  EXPECT_EQ(probes, 1);
  EXPECT_EQ(c.Tick(Instant::FromMillis(200), probe), 1u);  // two probes sent, no answer: dropped
  EXPECT_FALSE(c.Contains(ip));
  EXPECT_FALSE(c.NextDeadline());
}

TEST(IfaceNeighborCache, FullCacheEvictsTheOldestResolvedEntry) {
  NeighborCache c(NeighborCacheOptions{.max_entries = 2});
  c.Learn(Instant{1}, IpAddress::V4(10, 0, 0, 1), kMac);
  c.Learn(Instant{2}, IpAddress::V4(10, 0, 0, 2), kMac);
  c.Learn(Instant{3}, IpAddress::V4(10, 0, 0, 3), kMac);
  EXPECT_FALSE(c.Contains(IpAddress::V4(10, 0, 0, 1)));
  EXPECT_TRUE(c.Contains(IpAddress::V4(10, 0, 0, 3)));
}

}  // namespace
}  // namespace braid::ustack
