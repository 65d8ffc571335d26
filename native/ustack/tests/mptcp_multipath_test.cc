// Multipath MPTCP between two whole Stacks, each with two interfaces on two MemoryLinks (path 0:
// 198.18.0.0/24, path 1: 198.18.1.0/24), driven by their path managers: active MP_JOIN, ADD_ADDR
// and its echo, MP_PRIO, REMOVE_ADDR, stale subflows after a path goes dark. Every byte is checked
// both ways; simulated time only.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim_clock.h"
#include "tcp_sim.h"
#include "ustack/mptcp/mptcp_stack.h"
#include "ustack/phy/memory_link.h"

namespace braid::ustack::mptcp {
namespace {

using sim::RandomBytes;
using sim::Rng;
using sim::SecretFor;

constexpr std::uint16_t kPort = 5001;

// Host `host` (1 or 2) on path `path`: 198.18.<path>.<host>/24, the other host as gateway (so a
// subflow may reach the peer's other address over this path).
InterfaceConfig IfaceFor(std::uint8_t path, std::uint8_t host) {
  InterfaceConfig c;
  c.ipv4 = IpCidr{IpAddress::V4(198, 18, path, host), 24};
  c.ipv4_gateway = IpAddress::V4(198, 18, path, static_cast<std::uint8_t>(3 - host));
  return c;
}

StackConfig StackFor(std::uint8_t host) {
  StackConfig c;
  c.iface = IfaceFor(0, host);
  return c;
}

LinkFaults Shaped(std::uint64_t rate_bps, Duration delay) {
  LinkFaults f;
  f.rate_bps = rate_bps;
  f.delay = delay;
  return f;
}

MemoryLink::Options LinkOptions(const LinkFaults& f, std::uint64_t seed) {
  MemoryLink::Options o;
  o.a_to_b = f;
  o.b_to_a = f;
  o.seed = seed;
  return o;
}

// Two stacks, a (client) and b (server), joined by two links.
class TwoPaths {
 public:
  TwoPaths(const LinkFaults& path0, const LinkFaults& path1, std::uint64_t seed, MptcpStackConfig ca,
           MptcpStackConfig cb)
      : link0_(LinkOptions(path0, seed * 2 + 1)),
        link1_(LinkOptions(path1, seed * 2 + 2)),
        sa_(link0_.a(), StackFor(1), SecretFor(seed * 2 + 1)),
        sb_(link0_.b(), StackFor(2), SecretFor(seed * 2 + 2)),
        a_((sa_.AddInterface(link1_.a(), IfaceFor(1, 1)), sa_), std::move(ca)),
        b_((sb_.AddInterface(link1_.b(), IfaceFor(1, 2)), sb_), std::move(cb)) {
    clock_.AddStack(a_);
    clock_.AddStack(b_);
    clock_.AddLink(link0_);
    clock_.AddLink(link1_);
  }

  MptcpStack& a() { return a_; }
  MptcpStack& b() { return b_; }
  MemoryLink& link(int i) { return i == 0 ? link0_ : link1_; }
  Instant now() const { return clock_.now(); }
  std::function<void()> app;

  bool RunUntil(const std::function<bool()>& done, Duration limit = Duration::Millis(300'000)) {
    return clock_.RunUntil(done, app, clock_.now() + limit);
  }

 private:
  MemoryLink link0_;
  MemoryLink link1_;
  Stack sa_;
  Stack sb_;
  MptcpStack a_;
  MptcpStack b_;
  sim::SimClock clock_;
};

// One side of a transfer: sends `out` (as fast as the stack takes it), shuts down, reads to EOF.
struct Peer {
  MptcpStack* stack = nullptr;
  SocketId id = kNoSocket;
  std::vector<std::uint8_t> out;
  std::size_t sent = 0;
  std::vector<std::uint8_t> in;
  bool shut = false;
  bool eof = false;
  bool closed = false;
  std::vector<SubflowInfo> subs;  // the last snapshot while the connection was open

  void Pump() {
    if (id == kNoSocket || closed) return;
    if (!stack->Status(id).connected) return;
    subs = stack->subflows(id);
    while (!shut && sent < out.size()) {
      const IoResult r = stack->Send(id, std::span(out).subspan(sent, std::min<std::size_t>(out.size() - sent, 65536)));
      if (r.error != TcpError::kOk) break;
      sent += r.bytes;
    }
    if (!shut && sent == out.size()) {
      EXPECT_EQ(stack->Shutdown(id), TcpError::kOk);
      shut = true;
    }
    while (!eof) {
      std::array<std::uint8_t, 16384> buf;
      const IoResult r = stack->Recv(id, buf);
      if (r.error == TcpError::kWouldBlock) break;
      ASSERT_EQ(r.error, TcpError::kOk);
      if (r.bytes == 0) eof = true;
      in.insert(in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
    if (shut && eof && !closed) {
      EXPECT_EQ(stack->Close(id), TcpError::kOk);
      closed = true;
    }
  }
};

// A client connection from a to b carrying `up` bytes to the server and `down` bytes back.
struct Transfer {
  TwoPaths& net;
  Peer client;
  Peer server;
  SocketId listener = kNoSocket;
  std::function<void()> during;  // runs every step, after the peers

  Transfer(TwoPaths& n, std::size_t up, std::size_t down, std::uint64_t seed) : net(n) {
    const OpenResult l = net.b().Listen(Endpoint{{}, kPort});
    EXPECT_TRUE(l.ok());
    listener = l.id;
    const OpenResult r = net.a().Connect(net.now(), Endpoint{IpAddress::V4(198, 18, 0, 2), kPort});
    EXPECT_TRUE(r.ok());
    client.stack = &net.a();
    client.id = r.id;
    client.out = RandomBytes(seed * 7 + 1, up);
    server.stack = &net.b();
    server.out = RandomBytes(seed * 7 + 2, down);
    net.app = [this] {
      if (server.id == kNoSocket) {
        const SocketId id = net.b().Accept(listener);
        if (id != kNoSocket) server.id = id;
      }
      client.Pump();
      server.Pump();
      if (during) during();
    };
  }
  bool done() const { return client.closed && server.closed; }
  void ExpectIntact() const {
    EXPECT_TRUE(server.in == client.out) << "client->server: " << server.in.size() << " of " << client.out.size();
    EXPECT_TRUE(client.in == server.out) << "server->client: " << client.in.size() << " of " << server.out.size();
  }
};

const SubflowInfo* OnLocal(const std::vector<SubflowInfo>& subs, std::uint8_t local_id) {
  for (const auto& s : subs) {
    if (s.local_id == local_id) return &s;
  }
  return nullptr;
}

std::uint64_t SentOn(const std::vector<SubflowInfo>& subs, std::uint8_t local_id) {
  std::uint64_t n = 0;
  for (const auto& s : subs) {
    if (s.local_id == local_id) n += s.bytes_sent;
  }
  return n;
}

// The client opens a subflow from its second interface (a `subflow` endpoint) to the server's
// initial address; the server announces nothing.
MptcpStackConfig ClientSubflowEndpoint() {
  MptcpStackConfig c;
  c.paths = {PathOptions{}, PathOptions{.backup = false, .signal = false, .subflow = true}};
  return c;
}
MptcpStackConfig ServerNoSignal() {
  MptcpStackConfig c;
  c.paths = {PathOptions{}, PathOptions{.backup = false, .signal = false, .subflow = false}};
  return c;
}
// The server announces its second address (a `signal` endpoint); the client opens no subflow of
// its own accord, only to what is announced.
MptcpStackConfig ClientNoSubflow() {
  MptcpStackConfig c;
  c.paths = {PathOptions{}, PathOptions{.backup = false, .signal = false, .subflow = false}};
  return c;
}
MptcpStackConfig ServerSignal() {
  MptcpStackConfig c;
  c.paths = {PathOptions{}, PathOptions{.backup = false, .signal = true, .subflow = false}};
  return c;
}

TEST(MptcpMultipath, ClientJoinsFromItsSecondPathAndBothPathsCarryData) {
  const LinkFaults f = Shaped(20'000'000, Duration::Millis(5));
  TwoPaths net(f, f, 1, ClientSubflowEndpoint(), ServerNoSignal());
  Transfer t(net, 4'000'000, 1'000'000, 1);
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  ASSERT_EQ(t.client.subs.size(), 2u);
  const SubflowInfo* join = OnLocal(t.client.subs, 1);
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->local.addr, IpAddress::V4(198, 18, 1, 1));
  EXPECT_EQ(join->remote.addr, IpAddress::V4(198, 18, 0, 2));
  EXPECT_EQ(join->remote_id, 0);
  // Both paths carried a fair share of the upload.
  EXPECT_GT(SentOn(t.client.subs, 0), 500'000u);
  EXPECT_GT(SentOn(t.client.subs, 1), 500'000u);
  EXPECT_GT(net.link(1).stats_a_to_b().delivered, 400u);
  // The active MP_JOIN ran its whole course on both ends.
  EXPECT_EQ(net.a().join_counters().syn_tx, 1u);
  EXPECT_EQ(net.a().join_counters().synack_rx, 1u);
  EXPECT_EQ(net.a().join_counters().fully_established, 1u);
  EXPECT_EQ(net.b().join_counters().ack_rx, 1u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kMpJoinSynTx), 1u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kAddAddrTx), 0u);
  EXPECT_EQ(net.b().path_counters().Get(PathCounter::kAddAddrTx), 0u);
}

TEST(MptcpMultipath, ServerAnnouncesItsSecondAddressAndTheClientJoinsIt) {
  const LinkFaults f = Shaped(20'000'000, Duration::Millis(5));
  TwoPaths net(f, f, 2, ClientNoSubflow(), ServerSignal());
  Transfer t(net, 3'000'000, 3'000'000, 2);
  const PmCounters* server_pm = nullptr;
  PmCounters server_pm_seen;
  t.during = [&] {
    if (t.server.id != kNoSocket && !t.server.closed && (server_pm = net.b().pm_counters(t.server.id))) {
      server_pm_seen = *server_pm;
    }
  };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  // ADD_ADDR with a valid HMAC went out once, was echoed, needed no repeat.
  EXPECT_EQ(net.b().path_counters().Get(PathCounter::kAddAddrTx), 1u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kAddAddr), 1u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kAddAddrDrop), 0u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kEchoAddTx), 1u);
  EXPECT_EQ(net.b().path_counters().Get(PathCounter::kEchoAdd), 1u);
  EXPECT_EQ(server_pm_seen.announces, 1u);
  EXPECT_EQ(server_pm_seen.announce_repeats, 0u);
  // The client joined the announced address from the interface on its subnet.
  ASSERT_EQ(t.client.subs.size(), 2u);
  const SubflowInfo* join = OnLocal(t.client.subs, 1);
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->remote.addr, IpAddress::V4(198, 18, 1, 2));
  EXPECT_EQ(join->remote_id, 1);
  EXPECT_GT(join->bytes_sent, 300'000u);
  EXPECT_GT(join->bytes_received, 300'000u);
  EXPECT_GT(net.link(1).stats_a_to_b().delivered, 300u);
  EXPECT_GT(net.link(1).stats_b_to_a().delivered, 300u);
}

TEST(MptcpMultipath, BackupPathIdleUntilMpPrioFlipsIt) {
  const LinkFaults f = Shaped(20'000'000, Duration::Millis(5));
  MptcpStackConfig ca = ClientSubflowEndpoint();
  ca.paths[1].backup = true;
  TwoPaths net(f, f, 3, ca, ServerNoSignal());
  Transfer t(net, 8'000'000, 2'000'000, 3);
  bool flipped = false;
  std::uint64_t path0_at_flip = 0;
  std::uint64_t backup_before_flip = 0;
  std::uint64_t server_backup_before_flip = 0;
  bool join_seen = false;
  t.during = [&] {
    if (flipped || t.client.closed) return;
    const SubflowInfo* j = OnLocal(t.client.subs, 1);
    if (j == nullptr || !j->established) return;
    join_seen = true;
    EXPECT_TRUE(j->backup);
    if (t.client.sent < 3'000'000 || t.server.subs.size() < 2) return;
    // Half way: the backup path carried nothing either way while the primary worked.
    backup_before_flip = j->bytes_sent;
    for (const auto& s : t.server.subs) {
      if (s.id != DssHook::kInitialSubflow) server_backup_before_flip += s.bytes_sent;
    }
    // Swap the roles at runtime: MP_PRIO on both subflows.
    net.a().SetPathBackup(net.now(), 0, true);
    net.a().SetPathBackup(net.now(), 1, false);
    path0_at_flip = SentOn(t.client.subs, 0);
    flipped = true;
  };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  ASSERT_TRUE(join_seen);
  ASSERT_TRUE(flipped);
  EXPECT_EQ(backup_before_flip, 0u);
  EXPECT_EQ(server_backup_before_flip, 0u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kMpPrioTx), 2u);
  EXPECT_EQ(net.b().path_counters().Get(PathCounter::kMpPrioRx), 2u);
  // After the flip the new data went over path 1; path 0 (now backup) took only what the
  // scheduler had assigned before.
  EXPECT_GT(SentOn(t.client.subs, 1), 3'000'000u);
  EXPECT_LT(SentOn(t.client.subs, 0) - path0_at_flip, 300'000u);
}

// The server announces a `backup` address: the client's join there gets B=1 in the server's
// SYN/ACK (as Linux answers a join to a backup endpoint) and the client sends nothing on it while
// path 0 works.
TEST(MptcpMultipath, JoinToAPeersBackupAddressCarriesNothing) {
  const LinkFaults f = Shaped(20'000'000, Duration::Millis(5));
  MptcpStackConfig cb = ServerSignal();
  cb.paths[1].backup = true;
  TwoPaths net(f, f, 7, ClientNoSubflow(), cb);
  Transfer t(net, 4'000'000, 2'000'000, 7);
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  const SubflowInfo* join = OnLocal(t.client.subs, 1);
  ASSERT_NE(join, nullptr);
  EXPECT_TRUE(join->established);
  EXPECT_TRUE(join->backup);
  EXPECT_EQ(join->bytes_sent, 0u);
  EXPECT_EQ(join->bytes_received, 0u);  // the server, whose path it is, does not use it either
  EXPECT_GT(SentOn(t.client.subs, 0), 2'000'000u);
}

TEST(MptcpMultipath, DarkPathGoesStaleItsDataIsReinjectedAndItIsUsedAgainWhenBack) {
  const LinkFaults f = Shaped(10'000'000, Duration::Millis(5));
  TwoPaths net(f, f, 4, ClientNoSubflow(), ServerSignal());
  Transfer t(net, 16'000'000, 2'000'000, 4);
  enum class Phase { kWarm, kDark, kBack } phase = Phase::kWarm;
  Instant dark_at;
  std::uint64_t path1_at_restore = 0;
  t.during = [&] {
    if (t.client.closed) return;
    const SubflowInfo* j = OnLocal(t.client.subs, 1);
    switch (phase) {
      case Phase::kWarm:
        if (j != nullptr && j->bytes_sent > 500'000) {
          LinkFaults dark = f;
          dark.loss = 1.0;
          net.link(1).set_faults_a_to_b(dark);
          net.link(1).set_faults_b_to_a(dark);
          dark_at = net.now();
          phase = Phase::kDark;
        }
        return;
      case Phase::kDark:
        if (net.a().path_counters().Get(PathCounter::kSubflowStale) > 0 && net.now() > dark_at + Duration::Millis(4000)) {
          net.link(1).set_faults_a_to_b(f);
          net.link(1).set_faults_b_to_a(f);
          path1_at_restore = SentOn(t.client.subs, 1);
          phase = Phase::kBack;
        }
        return;
      case Phase::kBack:
        return;
    }
  };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  ASSERT_EQ(phase, Phase::kBack);
  EXPECT_GE(net.a().path_counters().Get(PathCounter::kSubflowStale), 1u);
  EXPECT_GE(net.a().path_counters().Get(PathCounter::kSubflowRecover), 1u);
  // Path 1 carries new data again once back.
  EXPECT_GT(SentOn(t.client.subs, 1), path1_at_restore + 500'000u);
}

TEST(MptcpMultipath, PathDownClosesItsSubflowsTellsThePeerAndComesBack) {
  const LinkFaults f = Shaped(10'000'000, Duration::Millis(5));
  TwoPaths net(f, f, 5, ClientSubflowEndpoint(), ServerNoSignal());
  Transfer t(net, 12'000'000, 1'000'000, 5);
  enum class Phase { kWarm, kDown, kUp } phase = Phase::kWarm;
  Instant down_at;
  bool none_while_down = true;
  std::uint64_t path1_at_up = 0;
  t.during = [&] {
    if (t.client.closed) return;
    switch (phase) {
      case Phase::kWarm:
        if (SentOn(t.client.subs, 1) > 500'000) {
          net.a().SetPathUp(net.now(), 1, false);
          down_at = net.now();
          phase = Phase::kDown;
        }
        return;
      case Phase::kDown:
        // Closed at once, not re-created while down.
        if (net.a().subflows(t.client.id).size() != 1) none_while_down = false;
        if (net.now() > down_at + Duration::Millis(2000)) {
          path1_at_up = 0;
          net.a().SetPathUp(net.now(), 1, true);
          phase = Phase::kUp;
        }
        return;
      case Phase::kUp:
        return;
    }
  };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  ASSERT_EQ(phase, Phase::kUp);
  EXPECT_TRUE(none_while_down);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kRmAddrTx), 1u);
  EXPECT_EQ(net.b().path_counters().Get(PathCounter::kRmAddr), 1u);
  // A new subflow from path 1 after it came back, carrying data.
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kMpJoinSynTx), 2u);
  const SubflowInfo* j = OnLocal(t.client.subs, 1);
  ASSERT_NE(j, nullptr);
  EXPECT_GT(j->bytes_sent, path1_at_up + 100'000u);
}

// An ADD_ADDR whose HMAC does not prove knowledge of both keys is dropped and counted, and
// nothing joins the address it names (RFC 8684 3.4.1).
TEST(MptcpMultipath, AddAddrWithAWrongHmacIsDropped) {
  const LinkFaults f = Shaped(20'000'000, Duration::Millis(5));
  TwoPaths net(f, f, 6, ClientNoSubflow(), ServerNoSignal());
  Transfer t(net, 500'000, 500'000, 6);
  bool forged = false;
  t.during = [&] {
    if (forged || t.server.id == kNoSocket || !net.b().IsMptcp(t.server.id)) return;
    auto* hook = dynamic_cast<DssHook*>(net.b().stack().connection(t.server.id)->option_hook());
    ASSERT_NE(hook, nullptr);
    const auto& st = *hook->conn();
    AddAddr a;
    a.address_id = 1;
    a.address = IpAddress::V4(198, 18, 1, 2);
    a.hmac = AddAddrHmac(st.local_key->key, st.remote_key->key, a.address_id, a.address, std::nullopt) ^ 0x100;
    hook->conn()->signals_out[DssHook::kInitialSubflow].push_back(a);
    forged = true;
  };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  ASSERT_TRUE(forged);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kAddAddrDrop), 1u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kAddAddr), 0u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kEchoAddTx), 0u);
  EXPECT_EQ(net.a().path_counters().Get(PathCounter::kMpJoinSynTx), 0u);
}

struct LossyCase {
  std::uint64_t seed;
  double loss;
};

class MptcpMultipathLossy : public testing::TestWithParam<LossyCase> {};

TEST_P(MptcpMultipathLossy, BytesArriveIntactOverLossyReorderingPaths) {
  const LossyCase c = GetParam();
  LinkFaults f0 = Shaped(30'000'000, Duration::Millis(2));
  LinkFaults f1 = Shaped(15'000'000, Duration::Millis(9));
  for (LinkFaults* f : {&f0, &f1}) {
    f->loss = c.loss;
    f->duplicate = c.loss / 2;
    f->reorder = c.loss * 2;
    f->reorder_delay = Duration::Millis(3);
  }
  // Both kinds of subflow: the client's own from path 1, and one to the server's announcement.
  MptcpStackConfig ca;
  MptcpStackConfig cb = ServerSignal();
  TwoPaths net(f0, f1, c.seed, ca, cb);
  Rng rng(c.seed);
  Transfer t(net, 1'000'000 + rng.Below(2'000'000), 500'000 + rng.Below(1'000'000), c.seed);
  std::size_t most_subflows = 0;
  t.during = [&] { most_subflows = std::max(most_subflows, t.client.subs.size()); };
  ASSERT_TRUE(net.RunUntil([&] { return t.done(); }));
  t.ExpectIntact();
  EXPECT_GE(most_subflows, 2u);
  EXPECT_GT(SentOn(t.client.subs, 1), 0u);
}

std::string LossyName(const testing::TestParamInfo<LossyCase>& p) {
  return "Seed" + std::to_string(p.param.seed) + "Loss" + std::to_string(static_cast<int>(p.param.loss * 100));
}

INSTANTIATE_TEST_SUITE_P(Seeds, MptcpMultipathLossy,
                         testing::Values(LossyCase{11, 0.01}, LossyCase{12, 0.02}, LossyCase{13, 0.03},
                                         LossyCase{14, 0.05}),
                         LossyName);

}  // namespace
}  // namespace braid::ustack::mptcp
