// MP_CAPABLE on one subflow (mptcp/subflow_hook.h) over the TcpOptionHook of tcp/, in the
// deterministic TCP simulation (tcp_sim.h): both roles, key exchange, checksums, a lost third ACK,
// fallback when the peer does not echo MP_CAPABLE, SYN retries without it, token exhaustion; and
// the hook interface itself (a refusing hook resets the connection).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ustack/mptcp/dss_checksum.h"
#include "ustack/mptcp/subflow_hook.h"
#include "ustack/tests/tcp_sim.h"

namespace braid::ustack::mptcp {
namespace {

using sim::Net;
using sim::Peer;
using State = SubflowHook::State;

constexpr std::uint16_t kPort = 8080;
Endpoint ServerEndpoint() { return Endpoint{Net::addr(Net::kB), kPort}; }

// One lcore's MPTCP state per side.
struct Side {
  explicit Side(SubflowConfig c = {}, TokenTable::RandomSource r = {}) : tokens(std::move(r)), ctx(c, tokens) {}
  TokenTable tokens;
  SubflowContext ctx;
  std::uint64_t count(HandshakeCounter c) const { return ctx.counters.Get(c); }
};

struct Session {
  SocketId listener = kNoSocket;
  Peer client, server;
  SubflowHook* client_hook = nullptr;
  SubflowHook* server_hook = nullptr;
};

// Connects A (client) to B (server), attaching hooks where a Side is given, then moves the peers'
// bytes both ways to the end of both streams.
// `r` must outlive the Net (the listener's hook factory writes into it).
void Exchange(Net& net, Side* a, Side* b, std::vector<std::uint8_t> a_data, std::vector<std::uint8_t> b_data,
              Session& r) {
  r.listener = net.b().Listen(ServerEndpoint()).id;
  if (b) {
    net.b().SetOptionHookFactory(r.listener, [b, &r](const FourTuple&, const TcpRepr&) {
      auto h = std::make_unique<SubflowHook>(b->ctx, SubflowHook::Role::kServer, 2);
      r.server_hook = h.get();
      return h;
    });
  }
  r.client.id = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint()).id;
  if (a) {
    auto h = std::make_unique<SubflowHook>(a->ctx, SubflowHook::Role::kClient, 1);
    r.client_hook = h.get();
    net.a().Get(r.client.id)->set_option_hook(std::move(h));
  }
  r.client.to_send = std::move(a_data);
  r.server.to_send = std::move(b_data);
  net.app = [&] {
    if (r.server.id == kNoSocket) r.server.id = net.b().Accept(r.listener);
    r.client.Pump(net.a());
    if (r.server.id != kNoSocket) r.server.Pump(net.b());
  };
  net.RunUntil([&] { return r.client.eof && r.server.eof; }, Duration::Millis(60000));
  net.app = nullptr;
}

std::vector<const sim::WireRecord*> From(const Net& net, int side) {
  std::vector<const sim::WireRecord*> out;
  for (const auto& w : net.log) {
    if (w.from == side) out.push_back(&w);
  }
  return out;
}

std::optional<MpCapable> MpcOf(const sim::WireRecord& w) {
  for (const auto& body : w.mptcp) {
    Option o;
    if (ParseOption(body, &o) == wire::WireError::kOk && std::holds_alternative<MpCapable>(o)) {
      return std::get<MpCapable>(o);
    }
  }
  return std::nullopt;
}

TEST(MptcpHandshake, BothSidesNegotiateAndExchangeKeys) {
  Side a, b;
  Net net(sim::SimConfig(), sim::SimConfig());
  net.keep_log = true;
  const auto up = sim::RandomBytes(1, 20000), down = sim::RandomBytes(2, 7000);
  Session r;
  Exchange(net, &a, &b, up, down, r);
  ASSERT_TRUE(r.client.eof && r.server.eof);
  EXPECT_EQ(r.server.received, up);
  EXPECT_EQ(r.client.received, down);
  ASSERT_NE(r.server_hook, nullptr);
  // The hooks are gone with their connections by now (TIME-WAIT ran out): read the wire instead.
  const auto sent_a = From(net, Net::kA), sent_b = From(net, Net::kB);
  ASSERT_GE(sent_a.size(), 3u);
  // SYN: MP_CAPABLE v1, 4 bytes, no key.
  auto syn = MpcOf(*sent_a[0]);
  ASSERT_TRUE(syn);
  EXPECT_TRUE(sent_a[0]->repr.has(kTcpSyn));
  EXPECT_EQ(sent_a[0]->mptcp[0].size() + 2, kLenMpcSyn);
  EXPECT_TRUE(syn->hmac_sha256 && !syn->checksum_required);
  // SYN/ACK: the server's key; third ACK: both keys, the client's first.
  auto synack = MpcOf(*sent_b[0]);
  ASSERT_TRUE(synack && synack->sender_key && !synack->receiver_key);
  auto ack = MpcOf(*sent_a[1]);
  ASSERT_TRUE(ack && ack->sender_key && ack->receiver_key);
  EXPECT_EQ(*ack->receiver_key, *synack->sender_key);
  // The client had data queued, so its third ACK is the first data segment: the data form.
  EXPECT_EQ(ack->data_len.value_or(0), sent_a[1]->payload_len);
  // The first data segment (SSN 1) carries the MP_CAPABLE data form with its length; later ones
  // carry nothing from this hook (DSS belongs to the connection level).
  const sim::WireRecord* first_data = nullptr;
  for (const auto* w : sent_a) {
    if (w->payload_len > 0) {
      first_data = w;
      break;
    }
  }
  ASSERT_NE(first_data, nullptr);
  auto mpc_data = MpcOf(*first_data);
  ASSERT_TRUE(mpc_data && mpc_data->data_len);
  EXPECT_EQ(*mpc_data->data_len, first_data->payload_len);
  EXPECT_FALSE(mpc_data->checksum);
  EXPECT_EQ(a.count(HandshakeCounter::kMpCapableSynTx), 1u);
  EXPECT_EQ(a.count(HandshakeCounter::kMpCapableSynAckRx), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableSynRx), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableSynAckTx), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableAckRx), 1u);
  // Tokens are held for the connection's life and freed when it reaches CLOSED.
  EXPECT_EQ(a.tokens.size(), 1u);
  EXPECT_EQ(b.tokens.size(), 1u);
  net.a().Get(r.client.id)->Close();
  net.b().Get(r.server.id)->Close();
  net.RunFor(Duration::Millis(10000));
  EXPECT_EQ(net.a().connection_count() + net.b().connection_count(), 0u);
  EXPECT_EQ(a.tokens.size(), 0u);
  EXPECT_EQ(b.tokens.size(), 0u);
}

TEST(MptcpHandshake, StatesAndKeysWhileConnected) {
  SubflowConfig with_csum;
  with_csum.checksum = true;
  Side a(with_csum), b;
  Net net(sim::SimConfig(), sim::SimConfig());
  Session r;
  r.listener = net.b().Listen(ServerEndpoint()).id;
  net.b().SetOptionHookFactory(r.listener, [&](const FourTuple&, const TcpRepr&) {
    auto h = std::make_unique<SubflowHook>(b.ctx, SubflowHook::Role::kServer, 77);
    r.server_hook = h.get();
    return h;
  });
  r.client.id = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint()).id;
  auto h = std::make_unique<SubflowHook>(a.ctx, SubflowHook::Role::kClient, 66);
  r.client_hook = h.get();
  net.a().Get(r.client.id)->set_option_hook(std::move(h));
  EXPECT_EQ(r.client_hook->state(), State::kInit);
  net.RunUntil([&] {
    if (r.server.id == kNoSocket) r.server.id = net.b().Accept(r.listener);
    return r.server.id != kNoSocket;
  });
  ASSERT_NE(r.server_hook, nullptr);
  // Client: MPTCP once the SYN/ACK came; the server's is established by the third ACK.
  EXPECT_EQ(r.client_hook->state(), State::kMpcPending);
  EXPECT_EQ(r.server_hook->state(), State::kEstablished);
  ASSERT_TRUE(r.client_hook->local_key() && r.client_hook->remote_key());
  ASSERT_TRUE(r.server_hook->local_key() && r.server_hook->remote_key());
  EXPECT_EQ(r.client_hook->local_key()->key, r.server_hook->remote_key()->key);
  EXPECT_EQ(r.server_hook->local_key()->key, r.client_hook->remote_key()->key);
  EXPECT_EQ(a.tokens.Find(r.client_hook->local_key()->token), 66u);
  EXPECT_EQ(b.tokens.Find(r.server_hook->local_key()->token), 77u);
  // Either side's A bit turns checksums on for both.
  EXPECT_TRUE(r.client_hook->checksum());
  EXPECT_TRUE(r.server_hook->checksum());
  // Data from the client: its first segment's MP_CAPABLE checksum covers the implicit mapping.
  net.keep_log = true;
  const auto data = sim::RandomBytes(3, 500);
  ASSERT_EQ(net.a().Get(r.client.id)->Send(data).bytes, data.size());
  net.RunUntil([&] { return net.b().Get(r.server.id)->recv_available() == data.size(); });
  net.RunFor(Duration::Millis(100));  // the server's ACK comes back
  EXPECT_EQ(r.client_hook->state(), State::kEstablished);  // the server acknowledged past SSN 1
  const sim::WireRecord* seg = nullptr;
  for (const auto& w : net.log) {
    if (w.from == Net::kA && w.payload_len > 0) seg = &w;
  }
  ASSERT_NE(seg, nullptr);
  auto mpc = MpcOf(*seg);
  ASSERT_TRUE(mpc && mpc->checksum);
  EXPECT_EQ(seg->mptcp[0].size() + 2, kLenMpcAckDataCsum);
  EXPECT_TRUE(DssChecksumValid(r.client_hook->local_key()->idsn + 1, 1, 500, *mpc->checksum, data));
}

TEST(MptcpHandshake, LostThirdAckIsRepairedByTheFirstDataSegment) {
  Side a, b;
  Net net(sim::SimConfig(), sim::SimConfig());
  int dropped = 0;
  net.drop = [&](int from, const TcpRepr& r) {
    // The client's first segment after the SYN (its MP_CAPABLE third ACK, here with data) is lost;
    // the retransmission at SSN 1 carries the keys again.
    if (from != Net::kA || r.has(kTcpSyn) || r.mptcp_count == 0 || dropped > 0) return false;
    ++dropped;
    return true;
  };
  const auto up = sim::RandomBytes(4, 3000);
  Session r;
  Exchange(net, &a, &b, up, {}, r);
  ASSERT_TRUE(r.server.eof);
  EXPECT_EQ(r.server.received, up);
  EXPECT_EQ(dropped, 1);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableAckRx), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kFallbackAck), 0u);
}

TEST(MptcpHandshake, ClientFallsBackWhenTheServerDoesNotEcho) {
  Side a;
  Net net(sim::SimConfig(), sim::SimConfig());
  const auto up = sim::RandomBytes(5, 10000), down = sim::RandomBytes(6, 10000);
  Session r;
  Exchange(net, &a, nullptr, up, down, r);  // a plain TCP server
  ASSERT_TRUE(r.client.eof && r.server.eof);
  EXPECT_EQ(r.server.received, up);
  EXPECT_EQ(r.client.received, down);
  EXPECT_EQ(a.count(HandshakeCounter::kMpCapableSynTx), 1u);
  EXPECT_EQ(a.count(HandshakeCounter::kFallbackSynAck), 1u);
  EXPECT_EQ(a.tokens.size(), 0u);
}

TEST(MptcpHandshake, ServerStaysPlainForAPlainClient) {
  Side b;
  Net net(sim::SimConfig(), sim::SimConfig());
  net.keep_log = true;
  const auto up = sim::RandomBytes(7, 5000);
  Session r;
  Exchange(net, nullptr, &b, up, {}, r);
  ASSERT_TRUE(r.server.eof);
  EXPECT_EQ(r.server.received, up);
  for (const auto& w : net.log) EXPECT_TRUE(w.mptcp.empty());  // not even on the SYN/ACK
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableSynRx), 0u);
  EXPECT_EQ(b.tokens.size(), 0u);
}

// Wraps a client hook and strips its options from non-SYN segments: a middlebox that lets MPTCP
// through on the SYN only.
class StripAfterSyn : public TcpOptionHook {
 public:
  explicit StripAfterSyn(std::unique_ptr<SubflowHook> inner) : inner_(std::move(inner)) {}
  std::uint32_t ReservedOptionSpace() const override { return inner_->ReservedOptionSpace(); }
  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override { return inner_->OnSegmentIn(seg, state); }
  void OnSegmentOut(TcpRepr& seg, TcpState state) override {
    inner_->OnSegmentOut(seg, state);
    if (!seg.has(kTcpSyn)) seg.mptcp_count = 0;
  }

 private:
  std::unique_ptr<SubflowHook> inner_;
};

TEST(MptcpHandshake, ServerFallsBackWhenTheThirdAckHasNoKeys) {
  Side a, b;
  Net net(sim::SimConfig(), sim::SimConfig());
  Session r;
  r.listener = net.b().Listen(ServerEndpoint()).id;
  net.b().SetOptionHookFactory(r.listener, [&](const FourTuple&, const TcpRepr&) {
    auto h = std::make_unique<SubflowHook>(b.ctx, SubflowHook::Role::kServer, 2);
    r.server_hook = h.get();
    return h;
  });
  r.client.id = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint()).id;
  net.a().Get(r.client.id)->set_option_hook(
      std::make_unique<StripAfterSyn>(std::make_unique<SubflowHook>(a.ctx, SubflowHook::Role::kClient, 1)));
  r.client.to_send = sim::RandomBytes(8, 4000);
  net.app = [&] {
    if (r.server.id == kNoSocket) r.server.id = net.b().Accept(r.listener);
    r.client.Pump(net.a());
    if (r.server.id != kNoSocket) r.server.Pump(net.b());
  };
  net.RunUntil([&] { return r.server.eof; }, Duration::Millis(60000));
  ASSERT_NE(r.server_hook, nullptr);
  EXPECT_TRUE(r.server.eof);
  EXPECT_EQ(r.server.received, r.client.to_send);
  EXPECT_EQ(b.count(HandshakeCounter::kFallbackAck), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableAckRx), 0u);
}

TEST(MptcpHandshake, SynRetriesDropMpCapableAfterTwo) {
  Side a, b;
  Net net(sim::SimConfig(), sim::SimConfig());
  net.keep_log = true;
  // A middlebox that drops SYNs with MPTCP options.
  net.drop = [](int from, const TcpRepr& r) { return from == Net::kA && r.has(kTcpSyn) && r.mptcp_count > 0; };
  const auto up = sim::RandomBytes(9, 2000);
  Session r;
  Exchange(net, &a, &b, up, {}, r);
  ASSERT_TRUE(r.server.eof);
  EXPECT_EQ(r.server.received, up);
  EXPECT_EQ(a.count(HandshakeCounter::kMpCapableSynTx), 3u);  // the SYN and two retransmissions
  EXPECT_EQ(a.count(HandshakeCounter::kFallbackSynRetries), 1u);
  EXPECT_EQ(b.count(HandshakeCounter::kMpCapableSynRx), 0u);
  int syns = 0;
  for (const auto& w : net.log) syns += (w.from == Net::kA && w.repr.has(kTcpSyn)) ? 1 : 0;
  EXPECT_EQ(syns, 4);
}

TEST(MptcpHandshake, NoFreeTokenMeansPlainTcp) {
  // Every draw yields the same key, whose token is already taken.
  auto same = [](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), 0x5a); };
  Side a({}, same), b;
  ASSERT_TRUE(a.tokens.NewKey(99));
  const auto up = sim::RandomBytes(10, 1000);
  Net net(sim::SimConfig(), sim::SimConfig());
  Session r;
  Exchange(net, &a, &b, up, {}, r);
  ASSERT_TRUE(r.server.eof);
  EXPECT_EQ(r.server.received, up);
  EXPECT_EQ(a.count(HandshakeCounter::kNoToken), 1u);
  EXPECT_EQ(a.count(HandshakeCounter::kMpCapableSynTx), 0u);
  EXPECT_EQ(a.tokens.size(), 1u);  // only the one taken beforehand
}

// The tcp/ extension point on its own: a hook that refuses the SYN/ACK resets the connection.
class Refuser : public TcpOptionHook {
 public:
  std::uint32_t ReservedOptionSpace() const override { return 0; }
  bool OnSegmentIn(const TcpRepr&, TcpState state) override {
    seen.push_back(state);
    return false;
  }
  void OnSegmentOut(TcpRepr&, TcpState) override { ++out; }
  void OnClosed() override { closed = true; }
  std::vector<TcpState> seen;
  int out = 0;
  bool closed = false;
};

TEST(MptcpHandshake, HookRefusalResetsTheConnection) {
  Net net(sim::SimConfig(), sim::SimConfig());
  net.keep_log = true;
  const SocketId l = net.b().Listen(ServerEndpoint()).id;
  const SocketId c = net.a().Connect(net.now(), Net::addr(Net::kA), ServerEndpoint()).id;
  auto h = std::make_unique<Refuser>();
  Refuser* hook = h.get();
  net.a().Get(c)->set_option_hook(std::move(h));
  net.RunFor(Duration::Millis(2000));
  EXPECT_EQ(hook->seen, std::vector<TcpState>{TcpState::kSynSent});
  EXPECT_EQ(hook->out, 1);  // the SYN
  EXPECT_TRUE(hook->closed);
  ASSERT_NE(net.a().Get(c), nullptr);
  EXPECT_EQ(net.a().Get(c)->error(), TcpError::kConnectionReset);
  EXPECT_EQ(net.a().counters().Get(TcpCounter::kOptionHookResets), 1u);
  bool rst = false;
  for (const auto& w : net.log) rst |= w.from == Net::kA && w.repr.has(kTcpRst);
  EXPECT_TRUE(rst);
  EXPECT_EQ(net.b().Accept(l), kNoSocket);
  EXPECT_EQ(net.b().connection_count(), 0u);  // the server's half-open child was reset
  // A listener whose hook refuses the SYN answers it with RST/ACK and keeps nothing.
  const SocketId l2 = net.b().Listen(Endpoint{Net::addr(Net::kB), 9090}).id;
  net.b().SetOptionHookFactory(l2, [](const FourTuple&, const TcpRepr&) { return std::make_unique<Refuser>(); });
  const SocketId c2 = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), 9090}).id;
  net.RunFor(Duration::Millis(2000));
  ASSERT_NE(net.a().Get(c2), nullptr);
  EXPECT_EQ(net.a().Get(c2)->error(), TcpError::kConnectionRefused);
  EXPECT_EQ(net.b().counters().Get(TcpCounter::kOptionHookResets), 1u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
