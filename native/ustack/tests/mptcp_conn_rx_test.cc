// The receive-side building blocks of the MPTCP connection level: 64-bit DSN expansion, the
// per-subflow mapping tracker and the connection-level reassembly.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "ustack/mptcp/dsn.h"
#include "ustack/mptcp/mapping_tracker.h"
#include "ustack/mptcp/reassembly.h"

namespace braid::ustack::mptcp {
namespace {

std::vector<std::uint8_t> Bytes(std::size_t n, std::uint8_t first) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(MptcpConnDsn, ExpandsWithinTheSameEpoch) {
  EXPECT_EQ(ExpandSeq(0x500000100ull, 0x200u), 0x500000200ull);
  EXPECT_EQ(ExpandSeq(0x500000100ull, 0x80u), 0x500000080ull);  // a little behind: same epoch
}

TEST(MptcpConnDsn, ExpandsAcrossAForwardWrap) {
  EXPECT_EQ(ExpandSeq(0x1fffffff0ull, 0x10u), 0x200000010ull);
}

TEST(MptcpConnDsn, ExpandsAnOldValueIntoThePreviousEpoch) {
  EXPECT_EQ(ExpandSeq(0x200000010ull, 0xfffffff0u), 0x1fffffff0ull);
}

TEST(MptcpConnDsn, TakesA64BitValueWhole) {
  EXPECT_EQ(ExpandDsn(0x200000010ull, 0x7fffffff0ull, true), 0x7fffffff0ull);
  EXPECT_EQ(ExpandDsn(0x200000010ull, 0x7fffffff0ull, false), 0x1fffffff0ull);
}

TEST(MptcpConnDsn, ComparesAcrossThe64BitWrap) {
  EXPECT_TRUE(DsnLt(0xfffffffffffffff0ull, 0x10ull));
  EXPECT_TRUE(DsnGt(0x10ull, 0xfffffffffffffff0ull));
  EXPECT_EQ(DsnMax(0xfffffffffffffff0ull, 0x10ull), 0x10ull);
}

TEST(MptcpConnMappingTracker, MapsTheInOrderStreamAcrossMappings) {
  MappingTracker t(1);
  EXPECT_EQ(t.Add({.dsn = 1000, .ssn = 1, .length = 100}), MappingStatus::kOk);
  EXPECT_EQ(t.Add({.dsn = 5000, .ssn = 101, .length = 50}), MappingStatus::kOk);
  auto run = t.Front(1000);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->dsn, 1000u);
  EXPECT_EQ(run->length, 100u);
  t.Advance(40);
  run = t.Front(10);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->dsn, 1040u);
  EXPECT_EQ(run->length, 10u);
  t.Advance(60);
  EXPECT_EQ(t.held(), 1u);
  run = t.Front(1000);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->dsn, 5000u);
  EXPECT_EQ(run->length, 50u);
  t.Advance(50);
  EXPECT_FALSE(t.Front(10));  // unmapped: the caller waits (at most a window)
  EXPECT_EQ(t.held(), 0u);
}

TEST(MptcpConnMappingTracker, AcceptsAMappingThatArrivesBeforeItsTurn) {
  MappingTracker t(1);
  EXPECT_EQ(t.Add({.dsn = 700, .ssn = 201, .length = 100}), MappingStatus::kOk);
  EXPECT_FALSE(t.Front(10));
  EXPECT_EQ(t.Add({.dsn = 500, .ssn = 1, .length = 200}), MappingStatus::kOk);
  EXPECT_EQ(t.Front(1000)->dsn, 500u);
}

TEST(MptcpConnMappingTracker, IgnoresRepeatsAndStaleMappings) {
  MappingTracker t(1);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 1, .length = 100}), MappingStatus::kOk);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 1, .length = 100}), MappingStatus::kDuplicate);
  t.Advance(100);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 1, .length = 100}), MappingStatus::kStale);
  EXPECT_EQ(t.held(), 0u);
}

TEST(MptcpConnMappingTracker, AcceptsAConsistentOverlapAndRefusesAMismatch) {
  MappingTracker t(1);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 1, .length = 100}), MappingStatus::kOk);
  // Bytes 51..150 as DSN 60..159: the shared bytes 51..100 agree.
  EXPECT_EQ(t.Add({.dsn = 60, .ssn = 51, .length = 100}), MappingStatus::kOk);
  // Bytes 91..110 as DSN 200..: contradicts both.
  EXPECT_EQ(t.Add({.dsn = 200, .ssn = 91, .length = 20}), MappingStatus::kMismatch);
  t.Advance(100);
  // A late repeat against the consumed mapping is checked too.
  EXPECT_EQ(t.Add({.dsn = 11, .ssn = 1, .length = 100}), MappingStatus::kMismatch);
  auto run = t.Front(1000);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->dsn, 110u);
  EXPECT_EQ(run->length, 50u);
}

TEST(MptcpConnMappingTracker, ReportsInfiniteDataFinOnlyAndChecksumPresence) {
  MappingTracker t(1);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 0, .length = 0}), MappingStatus::kInfinite);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 0, .length = 0, .data_fin = true}), MappingStatus::kDataFinOnly);
  EXPECT_EQ(t.Add({.dsn = 10, .ssn = 1, .length = 5, .checksum = 0x1234}), MappingStatus::kChecksumMismatch);
  MappingTracker with_csum(1, true);
  EXPECT_EQ(with_csum.Add({.dsn = 10, .ssn = 1, .length = 5}), MappingStatus::kChecksumMismatch);
  EXPECT_EQ(with_csum.Add({.dsn = 10, .ssn = 1, .length = 5, .checksum = 0x1234}), MappingStatus::kOk);
  EXPECT_TRUE(MappingStatusIsError(MappingStatus::kMismatch));
  EXPECT_FALSE(MappingStatusIsError(MappingStatus::kStale));
}

TEST(MptcpConnMappingTracker, LimitsHeldMappings) {
  MappingTracker t(1);
  for (std::uint32_t i = 0; i < MappingTracker::kMaxMappings; ++i) {
    ASSERT_EQ(t.Add({.dsn = 1000 + i * 10, .ssn = 1 + i * 10, .length = 10}), MappingStatus::kOk);
  }
  EXPECT_EQ(t.Add({.dsn = 99999, .ssn = 5000, .length = 10}), MappingStatus::kTooMany);
}

TEST(MptcpConnMappingTracker, WorksAcrossTheSubflowSequenceWrap) {
  MappingTracker t(0xfffffff0u);
  EXPECT_EQ(t.Add({.dsn = 1ull << 40, .ssn = 0xfffffff0u, .length = 0x20}), MappingStatus::kOk);
  t.Advance(0x18);
  auto run = t.Front(100);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->dsn, (1ull << 40) + 0x18);
  EXPECT_EQ(run->length, 8u);
  t.Advance(8);
  EXPECT_EQ(t.held(), 0u);
  EXPECT_EQ(t.next_ssn(), 0x10u);
}

TEST(MptcpConnReassembly, ReordersAcrossSubflowsAndDropsDuplicates) {
  Reassembly r(1000, 100);
  auto a = Bytes(50, 0);
  auto b = Bytes(50, 50);
  auto p = r.Insert(150, b);
  EXPECT_EQ(p.fresh, 50u);
  EXPECT_EQ(r.readable(), 0u);
  EXPECT_EQ(r.rcv_nxt(), 100u);
  p = r.Insert(150, b);  // reinjected copy
  EXPECT_EQ(p.duplicate, 50u);
  EXPECT_EQ(p.fresh, 0u);
  p = r.Insert(100, a);
  EXPECT_EQ(p.fresh, 50u);
  EXPECT_EQ(r.rcv_nxt(), 200u);
  p = r.Insert(120, Bytes(60, 20));  // entirely old
  EXPECT_EQ(p.duplicate, 60u);
  std::vector<std::uint8_t> out(200);
  ASSERT_EQ(r.Read(out), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], i);
}

TEST(MptcpConnReassembly, HoldsManyHolesAcrossSubflows) {
  // Interleaved pieces from several subflows open far more holes than a subflow's SACK ranges.
  Reassembly r(100000, 0);
  auto data = Bytes(20000, 0);
  std::span<const std::uint8_t> all(data);
  for (std::uint32_t i = 1; i < 200; i += 2) EXPECT_EQ(r.Insert(i * 100, all.subspan(i * 100, 100)).fresh, 100u);
  EXPECT_EQ(r.rcv_nxt(), 0u);
  EXPECT_EQ(r.Insert(150, all.subspan(150, 100)).fresh, 50u);  // half new, half held
  for (std::uint32_t i = 0; i < 200; i += 2) r.Insert(i * 100, all.subspan(i * 100, 100));
  EXPECT_EQ(r.rcv_nxt(), 20000u);
  std::vector<std::uint8_t> out(20000);
  ASSERT_EQ(r.Read(out), 20000u);
  EXPECT_EQ(out, data);
}

TEST(MptcpConnReassembly, KeepsTheRightEdgeAndDropsBeyondIt) {
  Reassembly r(100, 0);
  EXPECT_EQ(r.window(), 100u);
  EXPECT_EQ(r.right_edge(), 100u);
  auto p = r.Insert(90, Bytes(20, 0));
  EXPECT_EQ(p.fresh, 10u);
  EXPECT_EQ(p.beyond, 10u);
  p = r.Insert(0, Bytes(90, 0));
  EXPECT_EQ(r.rcv_nxt(), 100u);
  EXPECT_EQ(r.window(), 0u);
  EXPECT_EQ(r.right_edge(), 100u);
  r.Consume(30);
  EXPECT_EQ(r.right_edge(), 130u);
}

TEST(MptcpConnReassembly, DataFinWaitsForEveryByteBeforeIt) {
  Reassembly r(1000, 0);
  r.Insert(50, Bytes(50, 50));
  EXPECT_TRUE(r.SetDataFin(100));
  EXPECT_FALSE(r.fin_reached());
  EXPECT_EQ(r.Insert(100, Bytes(5, 0)).beyond, 5u);  // nothing after the DATA_FIN
  EXPECT_TRUE(r.SetDataFin(100));                    // a repeat agrees
  EXPECT_FALSE(r.SetDataFin(101));                   // a different one does not
  r.Insert(0, Bytes(50, 0));
  EXPECT_TRUE(r.fin_reached());
  EXPECT_EQ(r.rcv_nxt(), 101u);  // the DATA_ACK covers the DATA_FIN octet
  EXPECT_EQ(r.readable(), 100u);
}

TEST(MptcpConnReassembly, DataFinAfterTheDataAndContradictions) {
  Reassembly r(1000, 0);
  r.Insert(0, Bytes(80, 0));
  EXPECT_FALSE(r.SetDataFin(40));   // below data already in order
  r.Insert(100, Bytes(10, 0));
  EXPECT_FALSE(r.SetDataFin(105));  // data already received past it
  EXPECT_TRUE(r.SetDataFin(110));
  EXPECT_FALSE(r.fin_reached());
  r.Insert(80, Bytes(20, 0));
  EXPECT_TRUE(r.fin_reached());
  EXPECT_EQ(r.rcv_nxt(), 111u);
  EXPECT_EQ(r.window(), 0u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
