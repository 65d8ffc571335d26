// JoinHook (mptcp/join_hook.h), active MP_JOIN, on crafted segments: the SYN carries the peer's
// token, our nonce, address id and B flag; a SYN/ACK with a wrong HMAC (or none) refuses the
// subflow; the third ACK carries the 160-bit HMAC until the peer's fourth ACK (with DSS), and only
// then does the subflow join the Msk.
#include <gtest/gtest.h>

#include <memory>

#include "mptcp_conn_fixture.h"
#include "ustack/mptcp/join_hook.h"

namespace braid::ustack::mptcp {
namespace {

constexpr std::uint64_t kLocalKey = 0x0102030405060708ull;
constexpr std::uint64_t kRemoteKey = 0xa1b2c3d4e5f60718ull;
constexpr std::uint32_t kRemoteNonce = 0x5eed1234;

std::shared_ptr<MptcpConnState> Connection() { return test::NegotiatedConnection(kLocalKey, kRemoteKey); }

struct Segment {
  TcpRepr repr;
  OptionBuffer options;
};

// Our SYN; returns its MP_JOIN.
MpJoinSyn SendSyn(JoinHook& hook) {
  TcpRepr syn;
  syn.flags = kTcpSyn;
  syn.seq = 7000;
  hook.OnSegmentOut(syn, TcpState::kSynSent);
  ReceivedOptions o;
  ParseOptions(syn, &o);
  EXPECT_TRUE(o.has(kOptMpjSyn));
  return o.mpj_syn;
}

void SynAck(Segment& s, std::uint64_t hmac) {
  s.repr.flags = kTcpSyn | kTcpAck;
  s.repr.seq = 300;
  s.repr.ack = 7001;
  MpJoinSynAck j;
  j.address_id = 4;
  j.backup = false;
  j.nonce = kRemoteNonce;
  j.hmac = hmac;
  ASSERT_EQ(s.options.Append(j, &s.repr), wire::WireError::kOk);
}

TEST(MptcpActiveJoin, SynCarriesTokenNonceAddressIdAndBackup) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 3, counters, JoinHook::Active{.local_id = 2, .backup = true});
  const MpJoinSyn j = SendSyn(hook);
  EXPECT_EQ(j.token, TokenOf(kRemoteKey));
  EXPECT_EQ(j.address_id, 2);
  EXPECT_TRUE(j.backup);
  EXPECT_EQ(SendSyn(hook).nonce, j.nonce);  // a retransmitted SYN keeps the nonce
  EXPECT_EQ(counters.syn_tx, 1u);
}

TEST(MptcpActiveJoin, WrongSynAckHmacRefusesTheSubflow) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 3, counters, JoinHook::Active{.local_id = 1});
  const MpJoinSyn j = SendSyn(hook);
  Segment s;
  SynAck(s, JoinSynAckHmac(kRemoteKey, kLocalKey, kRemoteNonce, j.nonce) ^ 1);
  EXPECT_FALSE(hook.OnSegmentIn(s.repr, TcpState::kSynSent));
  EXPECT_EQ(counters.synack_hmac_failure, 1u);
  // A SYN/ACK without MP_JOIN is refused as well.
  JoinHook hook2(conn, 4, counters, JoinHook::Active{.local_id = 1});
  SendSyn(hook2);
  TcpRepr plain;
  plain.flags = kTcpSyn | kTcpAck;
  EXPECT_FALSE(hook2.OnSegmentIn(plain, TcpState::kSynSent));
  EXPECT_EQ(counters.synack_missing, 1u);
  EXPECT_FALSE(conn->msk->HasSubflow(3));
}

TEST(MptcpActiveJoin, ThirdAckRepeatsUntilTheFourthAckThenDss) {
  auto conn = Connection();
  JoinCounters counters;
  JoinHook hook(conn, 3, counters, JoinHook::Active{.local_id = 1});
  const MpJoinSyn j = SendSyn(hook);
  Segment s;
  SynAck(s, JoinSynAckHmac(kRemoteKey, kLocalKey, kRemoteNonce, j.nonce));
  ASSERT_TRUE(hook.OnSegmentIn(s.repr, TcpState::kSynSent));
  EXPECT_EQ(counters.synack_rx, 1u);
  EXPECT_EQ(hook.remote_id(), 4);
  EXPECT_EQ(hook.AckOptionSpace(), kLenMpjAck);
  const JoinAckHmac want = JoinThirdAckHmac(kLocalKey, kRemoteKey, j.nonce, kRemoteNonce);
  for (int i = 0; i < 2; ++i) {
    TcpRepr ack;
    ack.flags = kTcpAck;
    ack.seq = 7001;
    hook.OnSegmentOut(ack, TcpState::kEstablished);
    ReceivedOptions o;
    ParseOptions(ack, &o);
    ASSERT_TRUE(o.has(kOptMpjAck));
    EXPECT_FALSE(o.has(kOptDss));
    EXPECT_EQ(o.mpj_ack.hmac, want);
    // A pure ACK of the peer without DSS does not confirm it; a repeated SYN/ACK neither.
    TcpRepr bare;
    bare.flags = kTcpAck;
    bare.seq = 301;
    bare.ack = 7001;
    EXPECT_TRUE(hook.OnSegmentIn(i == 0 ? bare : s.repr, TcpState::kEstablished));
    EXPECT_FALSE(hook.joined());
    EXPECT_FALSE(conn->msk->HasSubflow(3));
  }
  // The fourth ACK: the peer's segment with a DSS.
  Segment fourth;
  fourth.repr.flags = kTcpAck;
  fourth.repr.seq = 301;
  fourth.repr.ack = 7001;
  Dss d;
  d.data_ack = DataAck{conn->msk->snd_una()};
  ASSERT_EQ(fourth.options.Append(d, &fourth.repr), wire::WireError::kOk);
  EXPECT_TRUE(hook.OnSegmentIn(fourth.repr, TcpState::kEstablished));
  EXPECT_TRUE(hook.joined());
  EXPECT_TRUE(conn->msk->HasSubflow(3));
  EXPECT_EQ(counters.fully_established, 1u);
  TcpRepr next;
  next.flags = kTcpAck;
  next.seq = 7001;
  hook.OnSegmentOut(next, TcpState::kEstablished);
  ReceivedOptions o;
  ParseOptions(next, &o);
  EXPECT_FALSE(o.has(kOptMpjAck));
  EXPECT_TRUE(o.has(kOptDss));
}

// The passive side answers a repeated third ACK (its fourth ACK was lost) with another ACK.
TEST(MptcpActiveJoin, PassiveSideOwesAnAckForARepeatedThirdAck) {
  auto conn = Connection();  // here: the passive side's connection (its key is kLocalKey)
  JoinCounters counters;
  JoinHook passive(conn, 5, counters);
  passive.set_local(1, false);
  Segment syn;
  syn.repr.flags = kTcpSyn;
  syn.repr.seq = 100;
  MpJoinSyn j;
  j.token = TokenOf(kLocalKey);
  j.nonce = kRemoteNonce;
  j.address_id = 3;
  ASSERT_EQ(syn.options.Append(j, &syn.repr), wire::WireError::kOk);
  ASSERT_TRUE(passive.OnSegmentIn(syn.repr, TcpState::kSynReceived));
  EXPECT_EQ(passive.remote_id(), 3);
  TcpRepr synack;
  synack.flags = kTcpSyn | kTcpAck;
  passive.OnSegmentOut(synack, TcpState::kSynReceived);
  ReceivedOptions o;
  ParseOptions(synack, &o);
  ASSERT_TRUE(o.has(kOptMpjSynAck));
  EXPECT_EQ(o.mpj_synack.address_id, 1);
  Segment ack;
  ack.repr.flags = kTcpAck;
  ack.repr.seq = 101;
  MpJoinAck ja;
  ja.hmac = JoinThirdAckHmac(kRemoteKey, kLocalKey, kRemoteNonce, o.mpj_synack.nonce);
  ASSERT_EQ(ack.options.Append(ja, &ack.repr), wire::WireError::kOk);
  ASSERT_TRUE(passive.OnSegmentIn(ack.repr, TcpState::kSynReceived));
  EXPECT_EQ(conn->ack_owed.count(5), 1u);
  conn->ack_owed.clear();
  ASSERT_TRUE(passive.OnSegmentIn(ack.repr, TcpState::kEstablished));
  EXPECT_EQ(conn->ack_owed.count(5), 1u);
}

// A signal waiting for the subflow rides on its next segment without payload, not beside data.
TEST(MptcpActiveJoin, SignalsRideOnPureAcksOnly) {
  auto conn = Connection();
  DssSubflow dss(conn, DssHook::kInitialSubflow);
  AddAddr a;
  a.address_id = 1;
  a.address = IpAddress::V4(198, 18, 1, 2);
  a.hmac = 42;
  conn->signals_out[DssHook::kInitialSubflow].push_back(a);
  EXPECT_EQ(dss.AckSpace(), 28u);  // DSS with a 64-bit DATA_ACK (12) + ADD_ADDR with HMAC (16)
  std::array<std::uint8_t, 10> data{};
  TcpRepr seg;
  seg.flags = kTcpAck;
  seg.payload = data;
  OptionBuffer out;
  dss.Out(seg, out);
  ReceivedOptions o;
  ParseOptions(seg, &o);
  EXPECT_FALSE(o.has(kOptAddAddr));
  TcpRepr bare;
  bare.flags = kTcpAck;
  OptionBuffer out2;
  dss.Out(bare, out2);
  ParseOptions(bare, &o);
  ASSERT_TRUE(o.has(kOptAddAddr));
  EXPECT_EQ(o.add_addr.address, a.address);
  EXPECT_EQ(o.add_addr.hmac, 42u);
  EXPECT_TRUE(conn->signals_out[DssHook::kInitialSubflow].empty());
}

// An IPv6 ADD_ADDR (28 bytes) does not fit beside the DATA_ACK and timestamps: it goes alone.
TEST(MptcpActiveJoin, LargeSignalGoesAloneOnItsAck) {
  auto conn = Connection();
  DssSubflow dss(conn, DssHook::kInitialSubflow);
  AddAddr a;
  a.address_id = 2;
  a.address.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  a.hmac = 7;
  conn->signals_out[DssHook::kInitialSubflow].push_back(a);
  EXPECT_EQ(dss.AckSpace(), 28u);
  TcpRepr bare;
  bare.flags = kTcpAck;
  OptionBuffer out;
  dss.Out(bare, out);
  ReceivedOptions o;
  ParseOptions(bare, &o);
  ASSERT_TRUE(o.has(kOptAddAddr));
  EXPECT_FALSE(o.has(kOptDss));
  EXPECT_EQ(o.add_addr.address, a.address);
  EXPECT_EQ(dss.AckSpace(), 12u);  // back to the DATA_ACK alone
}

}  // namespace
}  // namespace braid::ustack::mptcp
