// JoinHook (mptcp/join_hook.h), passive MP_JOIN, on crafted segments: the SYN/ACK carries our nonce
// and the HMAC the RFC defines, a third ACK with the right HMAC joins the subflow to the Msk and
// owes an ACK, a wrong or missing one (or an unknown token) refuses the subflow.
#include "ustack/mptcp/join_hook.h"

#include <gtest/gtest.h>

#include <memory>

#include "mptcp_conn_fixture.h"

namespace braid::ustack::mptcp {
namespace {

constexpr std::uint64_t kLocalKey = 0x1122334455667788ull;
constexpr std::uint64_t kRemoteKey = 0x99aabbccddeeff00ull;
constexpr std::uint32_t kRemoteNonce = 0xcafef00d;

std::shared_ptr<MptcpConnState> Connection() { return test::NegotiatedConnection(kLocalKey, kRemoteKey); }

struct Segment {
  TcpRepr repr;
  OptionBuffer options;
};

void JoinSyn(Segment& s) {
  s.repr.flags = kTcpSyn;
  s.repr.seq = 1000;
  MpJoinSyn j;
  j.token = TokenOf(kLocalKey);
  j.nonce = kRemoteNonce;
  j.backup = true;
  ASSERT_EQ(s.options.Append(j, &s.repr), wire::WireError::kOk);
}

// Runs the SYN and our SYN/ACK; returns our nonce from the SYN/ACK.
std::uint32_t Handshake(JoinHook& hook) {
  Segment syn;
  JoinSyn(syn);
  EXPECT_TRUE(hook.OnSegmentIn(syn.repr, TcpState::kSynReceived));
  TcpRepr synack;
  synack.flags = kTcpSyn | kTcpAck;
  synack.seq = 5000;
  hook.OnSegmentOut(synack, TcpState::kSynReceived);
  ReceivedOptions o;
  ParseOptions(synack, &o);
  EXPECT_TRUE(o.has(kOptMpjSynAck));
  EXPECT_EQ(o.mpj_synack.hmac, JoinSynAckHmac(kLocalKey, kRemoteKey, o.mpj_synack.nonce, kRemoteNonce));
  return o.mpj_synack.nonce;
}

TEST(MptcpJoinHook, ValidThirdAckJoinsTheSubflow) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 2, counters);
  const std::uint32_t our_nonce = Handshake(hook);
  Segment ack;
  ack.repr.flags = kTcpAck;
  ack.repr.seq = 1001;
  ack.repr.ack = 5001;
  MpJoinAck j;
  j.hmac = JoinThirdAckHmac(kRemoteKey, kLocalKey, kRemoteNonce, our_nonce);
  ASSERT_EQ(ack.options.Append(j, &ack.repr), wire::WireError::kOk);
  EXPECT_TRUE(hook.OnSegmentIn(ack.repr, TcpState::kSynReceived));
  EXPECT_TRUE(hook.joined());
  EXPECT_TRUE(hook.backup());
  EXPECT_TRUE(conn->msk->HasSubflow(2));
  EXPECT_EQ(conn->ack_owed.count(2), 1u);
  EXPECT_EQ(counters.ack_rx, 1u);
  EXPECT_EQ(hook.ReservedOptionSpace(), 28u);  // DSS with 64-bit DATA_ACK and mapping, padded
  EXPECT_EQ(hook.AckOptionSpace(), 12u);       // a pure ACK: DATA_ACK only, room for a SACK block
  // Its segments now carry a DATA_ACK.
  TcpRepr out;
  out.flags = kTcpAck;
  out.seq = 5001;
  hook.OnSegmentOut(out, TcpState::kEstablished);
  ReceivedOptions o;
  ParseOptions(out, &o);
  ASSERT_TRUE(o.has(kOptDss));
  ASSERT_TRUE(o.dss.data_ack.has_value());
  EXPECT_EQ(o.dss.data_ack->ack, conn->remote_key->idsn + 1);
}

TEST(MptcpJoinHook, WrongHmacRefuses) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 2, counters);
  const std::uint32_t our_nonce = Handshake(hook);
  Segment ack;
  ack.repr.flags = kTcpAck;
  MpJoinAck j;
  j.hmac = JoinThirdAckHmac(kRemoteKey, kLocalKey, kRemoteNonce, our_nonce + 1);
  ASSERT_EQ(ack.options.Append(j, &ack.repr), wire::WireError::kOk);
  EXPECT_FALSE(hook.OnSegmentIn(ack.repr, TcpState::kSynReceived));
  EXPECT_FALSE(conn->msk->HasSubflow(2));
  EXPECT_EQ(counters.ack_hmac_failure, 1u);
}

TEST(MptcpJoinHook, ThirdAckWithoutMpJoinRefuses) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 2, counters);
  Handshake(hook);
  TcpRepr ack;
  ack.flags = kTcpAck;
  EXPECT_FALSE(hook.OnSegmentIn(ack, TcpState::kSynReceived));
  EXPECT_EQ(counters.ack_missing, 1u);
}

TEST(MptcpJoinHook, UnknownTokenRefusesTheSyn) {
  JoinCounters counters;
  JoinHook hook(nullptr, 0, counters);
  Segment syn;
  JoinSyn(syn);
  EXPECT_FALSE(hook.OnSegmentIn(syn.repr, TcpState::kSynReceived));
  EXPECT_EQ(counters.no_token, 1u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
