// Two whole Stacks (Interface + TcpTable) over a MemoryLink: real Ethernet frames with checksums,
// ARP/ND resolution, and the link's seeded loss, duplication, reordering, delay and rate. Simulated
// time jumps to the next deadline, so a multi-megabyte lossy transfer takes milliseconds of wall time.
#include "ustack/stack/stack.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim_clock.h"
#include "socket_peer.h"
#include "tcp_sim.h"
#include "ustack/phy/memory_link.h"

namespace braid::ustack {
namespace {

using sim::RandomBytes;
using sim::Rng;
using sim::SecretFor;

IpAddress V6(std::uint8_t last) {
  IpAddress ip;
  ip.bytes = {0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, last};
  return ip;
}

StackConfig ConfigFor(std::uint8_t host) {
  StackConfig c;
  c.iface.ipv4 = IpCidr{IpAddress::V4(198, 18, 0, host), 24};
  c.iface.ipv6 = IpCidr{V6(host), 64};
  return c;
}

// The two stacks, the link and the clock. Run() alternates Poll on both sides and the application
// callback, and jumps the clock to the earliest deadline or frame arrival when nothing is due.
class Pair {
 public:
  explicit Pair(MemoryLink::Options link, std::uint64_t seed = 1)
      : link_(link),
        a_(link_.a(), ConfigFor(1), SecretFor(seed * 2 + 1)),
        b_(link_.b(), ConfigFor(2), SecretFor(seed * 2 + 2)) {
    clock_.AddStack(a_);
    clock_.AddStack(b_);
    clock_.AddLink(link_);
  }

  Stack& a() { return a_; }
  Stack& b() { return b_; }
  MemoryLink& link() { return link_; }
  Instant now() const { return clock_.now(); }

  std::function<void()> app;

  bool RunUntil(const std::function<bool()>& done, Duration limit = Duration::Millis(600'000)) {
    return clock_.RunUntil(done, app, clock_.now() + limit, 20'000'000);
  }

 private:
  MemoryLink link_;
  Stack a_;
  Stack b_;
  sim::SimClock clock_;
};

using Peer = sim::SocketPeer;

struct Case {
  bool v6;
  std::uint64_t seed;
};

std::string CaseName(const testing::TestParamInfo<Case>& p) {
  return std::string(p.param.v6 ? "V6" : "V4") + "Seed" + std::to_string(p.param.seed);
}

class StackTransfer : public testing::TestWithParam<Case> {};

// Handshakes, then several concurrent connections move random amounts of random bytes both ways
// over a link with loss, duplication and reordering; every byte arrives intact and in order, and
// every connection closes on both sides.
TEST_P(StackTransfer, RandomTransfersArriveIntactOverFaultyLink) {
  const Case c = GetParam();
  MemoryLink::Options o;
  o.seed = c.seed;
  LinkFaults f;
  f.loss = 0.02;
  f.duplicate = 0.01;
  f.reorder = 0.02;
  f.delay = Duration::Millis(2);
  f.rate_bps = 200'000'000;
  o.a_to_b = f;
  o.b_to_a = f;
  Pair net(o, c.seed);
  Rng rng(c.seed * 31 + (c.v6 ? 7 : 0));

  const std::uint16_t kPort = 5001;
  const OpenResult l = net.b().Listen(Endpoint{{}, kPort});
  ASSERT_TRUE(l.ok());
  const IpAddress server = c.v6 ? V6(2) : IpAddress::V4(198, 18, 0, 2);

  constexpr int kConns = 3;
  std::array<Peer, kConns> clients;
  std::vector<Peer> servers;
  servers.reserve(kConns);
  for (int i = 0; i < kConns; ++i) {
    Peer& p = clients[i];
    p.stack = &net.a();
    p.rng = Rng(rng.Next());
    p.out = RandomBytes(rng.Next(), rng.Below(1'500'000));
    const OpenResult r = net.a().Connect(net.now(), Endpoint{server, kPort});
    ASSERT_TRUE(r.ok()) << TcpErrorName(r.error);
    p.id = r.id;
  }
  std::vector<std::vector<std::uint8_t>> server_out;
  for (int i = 0; i < kConns; ++i) server_out.push_back(RandomBytes(rng.Next(), rng.Below(1'500'000)));

  net.app = [&] {
    for (SocketId id; (id = net.b().Accept(l.id)) != kNoSocket;) {
      ASSERT_LT(servers.size(), static_cast<std::size_t>(kConns));
      Peer p;
      p.stack = &net.b();
      p.id = id;
      p.rng = Rng(rng.Next());
      p.out = server_out[servers.size()];
      servers.push_back(std::move(p));
    }
    net.a().DrainEvents([](SocketId, std::uint32_t) {});
    net.b().DrainEvents([](SocketId, std::uint32_t) {});
    for (auto& p : clients) p.Pump();
    for (auto& p : servers) p.Pump();
  };
  const bool done = net.RunUntil([&] {
    if (servers.size() != kConns) return false;
    for (auto& p : clients) {
      if (!p.closed) return false;
    }
    for (auto& p : servers) {
      if (!p.closed) return false;
    }
    return true;
  });
  if (!done) {  // where each connection got stuck, for the failure message
    for (auto& p : clients) {
      auto* cc = net.a().connection(p.id);
      std::fprintf(stderr, "client id=%u sent=%zu/%zu in=%zu shut=%d eof=%d closed=%d state=%s err=%s\n", p.id, p.sent, p.out.size(), p.in.size(), p.shut, p.eof, p.closed, cc ? TcpStateName(cc->state()) : "-", cc ? TcpErrorName(cc->error()) : "-");
    }
    for (auto& p : servers) {
      auto* cc = net.b().connection(p.id);
      std::fprintf(stderr, "server id=%u sent=%zu/%zu in=%zu shut=%d eof=%d closed=%d state=%s\n", p.id, p.sent, p.out.size(), p.in.size(), p.shut, p.eof, p.closed, cc ? TcpStateName(cc->state()) : "-");
    }
    for (Stack* s : {&net.a(), &net.b()})
      for (std::size_t i = 0; i < static_cast<std::size_t>(IfaceDrop::kCount); ++i)
        if (s->iface().drops()[i]) std::fprintf(stderr, "drop %s=%llu\n", IfaceDropName(static_cast<IfaceDrop>(i)), (unsigned long long)s->iface().drops()[i]);
  }
  ASSERT_TRUE(done) << "transfers did not finish by simulated t=" << net.now().micros / 1000 << " ms";

  // Server connections are matched to clients by what they received (ids may already be freed).
  for (auto& cl : clients) {
    const auto it = std::find_if(servers.begin(), servers.end(), [&](const Peer& s) { return s.in == cl.out; });
    ASSERT_NE(it, servers.end()) << "no server received the " << cl.out.size() << " bytes a client sent";
    EXPECT_EQ(cl.in, it->out) << "client received " << cl.in.size() << " of " << it->out.size() << " bytes";
  }
  // The faults happened, and no segment was too big for the MTU (IPv6 takes the smaller MSS).
  EXPECT_GT(net.link().stats_a_to_b().lost + net.link().stats_b_to_a().lost, 0u);
  EXPECT_GT(net.link().stats_a_to_b().duplicated + net.link().stats_b_to_a().duplicated, 0u);
  EXPECT_GT(net.link().stats_a_to_b().reordered + net.link().stats_b_to_a().reordered, 0u);
  for (Stack* s : {&net.a(), &net.b()}) {
    EXPECT_EQ(s->iface().drops(IfaceDrop::kTxTooBig), 0u);
    EXPECT_EQ(s->iface().drops(IfaceDrop::kTcpBadChecksum), 0u);
    EXPECT_EQ(s->iface().drops(IfaceDrop::kTcpMalformed), 0u);
  }
  // Both sides free every connection once TIME-WAIT ends.
  net.app = nullptr;
  EXPECT_TRUE(net.RunUntil([&] { return net.a().tcp().connection_count() == 0 && net.b().tcp().connection_count() == 0; }));
}

INSTANTIATE_TEST_SUITE_P(Stack, StackTransfer,
                         testing::Values(Case{false, 1}, Case{false, 2}, Case{false, 3}, Case{true, 1},
                                         Case{true, 2}, Case{true, 3}),
                         CaseName);

// A clean link: the handshake resolves neighbours (ARP for IPv4, ND for IPv6) first, and
// readiness is reported: connected + writable to the client, acceptable to the listener.
TEST(Stack, HandshakeAndReadinessV4AndV6) {
  for (bool v6 : {false, true}) {
    Pair net(MemoryLink::Options{});
    const OpenResult l = net.b().Listen(Endpoint{{}, 80});
    ASSERT_TRUE(l.ok());
    const IpAddress server = v6 ? V6(2) : IpAddress::V4(198, 18, 0, 2);
    const OpenResult c = net.a().Connect(net.now(), Endpoint{server, 80});
    ASSERT_TRUE(c.ok());
    std::uint32_t client_events = 0;
    std::uint32_t listener_events = 0;
    ASSERT_TRUE(net.RunUntil([&] {
      net.a().DrainEvents([&](SocketId id, std::uint32_t r) {
        if (id == c.id) client_events |= r;
      });
      net.b().DrainEvents([&](SocketId id, std::uint32_t r) {
        if (id == l.id) listener_events |= r;
      });
      return (client_events & kTcpConnected) && (listener_events & kTcpAcceptable);
    }, Duration::Millis(5000)));
    EXPECT_TRUE(client_events & kTcpWritable);
    const SocketId s = net.b().Accept(l.id);
    ASSERT_NE(s, kNoSocket);
    EXPECT_EQ(net.b().connection(s)->tuple().remote.addr, v6 ? V6(1) : IpAddress::V4(198, 18, 0, 1));
    EXPECT_EQ(net.a().connection(c.id)->smss(), v6 ? 1428 : 1448);  // MTU 1500 minus headers and TS
    const std::array<std::uint8_t, 5> hello{'h', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(net.a().Send(c.id, hello).bytes, hello.size());
    std::array<std::uint8_t, 16> buf{};
    ASSERT_TRUE(net.RunUntil([&] { return net.b().Readiness(s) & kTcpReadable; }, Duration::Millis(5000)));
    const IoResult r = net.b().Recv(s, buf);
    EXPECT_EQ(r.bytes, hello.size());
    EXPECT_TRUE(std::equal(hello.begin(), hello.end(), buf.begin()));
    EXPECT_EQ(net.a().iface().counters().tcp_out, net.b().iface().counters().tcp_in);
  }
}

// Connecting to a port nobody listens on is refused (the table's RST travels as a real frame).
TEST(Stack, ConnectToClosedPortIsRefused) {
  Pair net(MemoryLink::Options{});
  const OpenResult c = net.a().Connect(net.now(), Endpoint{IpAddress::V4(198, 18, 0, 2), 9});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(net.RunUntil([&] { return net.a().Readiness(c.id) & kTcpHangup; }, Duration::Millis(5000)));
  EXPECT_EQ(net.a().Error(c.id), TcpError::kConnectionRefused);
}

// No address of the remote's family: Connect says so instead of sending from a wrong source.
TEST(Stack, ConnectWithoutAddressOfThatFamilyIsInvalid) {
  MemoryLink link(MemoryLink::Options{});
  StackConfig cfg;
  cfg.iface.ipv4 = IpCidr{IpAddress::V4(198, 18, 0, 1), 24};
  Stack s(link.a(), cfg, SecretFor(1));
  EXPECT_EQ(s.Connect(Instant{}, Endpoint{V6(2), 80}).error, TcpError::kInvalidArgument);
  EXPECT_EQ(s.Listen(Endpoint{{}, 0}).error, TcpError::kInvalidArgument);
}

// Two interfaces per stack, one MemoryLink each (two NICs, two paths): a connection opened from the
// second interface's address travels on the second link only, both ways, and the stacks reject an
// interface that repeats an address or has a smaller MTU than the first.
TEST(Stack, ConnectFromSecondInterfaceUsesItsLink) {
  MemoryLink path0(MemoryLink::Options{});
  MemoryLink path1(MemoryLink::Options{});
  Stack a(path0.a(), ConfigFor(1), SecretFor(1));
  Stack b(path0.b(), ConfigFor(2), SecretFor(2));
  InterfaceConfig a1;
  a1.ipv4 = IpCidr{IpAddress::V4(198, 19, 0, 1), 24};
  InterfaceConfig b1;
  b1.ipv4 = IpCidr{IpAddress::V4(198, 19, 0, 2), 24};
  ASSERT_EQ(a.AddInterface(path1.a(), a1), 1u);
  ASSERT_EQ(b.AddInterface(path1.b(), b1), 1u);
  EXPECT_EQ(a.interface_count(), 2u);
  EXPECT_EQ(a.InterfaceOf(IpAddress::V4(198, 19, 0, 1)), std::optional<std::size_t>(1));
  EXPECT_EQ(a.InterfaceOf(IpAddress::V4(198, 18, 0, 1)), std::optional<std::size_t>(0));
  EXPECT_FALSE(a.InterfaceOf(IpAddress::V4(198, 19, 0, 2)));

  const OpenResult l = b.Listen(Endpoint{{}, 80});
  ASSERT_TRUE(l.ok());
  const OpenResult c = a.ConnectFrom(Instant{}, IpAddress::V4(198, 19, 0, 1), Endpoint{IpAddress::V4(198, 19, 0, 2), 80});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(a.ConnectFrom(Instant{}, IpAddress::V4(198, 20, 0, 1), Endpoint{IpAddress::V4(198, 19, 0, 2), 80}).error,
            TcpError::kInvalidArgument);
  const std::vector<std::uint8_t> data = RandomBytes(200'000, 7);
  std::vector<std::uint8_t> got;
  SocketId s = kNoSocket;
  std::size_t sent = 0;
  sim::SimClock clock;
  clock.AddStack(a);
  clock.AddStack(b);
  clock.AddLink(path0);
  clock.AddLink(path1);
  clock.RunUntil([&] { return got.size() >= data.size(); }, [&] {
    if (s == kNoSocket) s = b.Accept(l.id);
    if (sent < data.size()) sent += a.Send(c.id, std::span(data).subspan(sent)).bytes;
    if (s != kNoSocket) {
      std::array<std::uint8_t, 65536> buf{};
      const IoResult r = b.Recv(s, buf);
      if (r.error == TcpError::kOk) got.insert(got.end(), buf.begin(), buf.begin() + r.bytes);
    }
  }, clock.now() + Duration::Millis(60'000));
  EXPECT_EQ(got, data);
  EXPECT_EQ(a.iface(0).counters().tcp_out, 0u);
  EXPECT_EQ(b.iface(0).counters().tcp_out, 0u);
  EXPECT_GT(a.iface(1).counters().tcp_out, 0u);
  EXPECT_GT(b.iface(1).counters().tcp_out, 0u);
  EXPECT_EQ(a.iface(1).counters().tcp_out, b.iface(1).counters().tcp_in);

  MemoryLink extra(MemoryLink::Options{});
  EXPECT_THROW(a.AddInterface(extra.a(), a1), std::invalid_argument);
  MemoryLink::Options small;
  small.caps.mtu = 1280;
  MemoryLink narrow(small);
  InterfaceConfig a2;
  a2.ipv4 = IpCidr{IpAddress::V4(198, 19, 1, 1), 24};
  EXPECT_THROW(a.AddInterface(narrow.a(), a2), std::invalid_argument);
}

// Weak host, as Linux: a peer whose subflow is bound to path 1 reaches our path-0 address over
// path 1's link (its ARP for that address answered there) and our answers go back over the same
// link, never over path 0's.
TEST(Stack, ConnectionArrivingOverAnotherInterfacesLinkStaysOnIt) {
  MemoryLink path0(MemoryLink::Options{});
  MemoryLink path1(MemoryLink::Options{});
  Stack a(path0.a(), ConfigFor(1), SecretFor(1));  // 198.18.0.1 on path 0
  Stack b(path0.b(), ConfigFor(2), SecretFor(2));
  InterfaceConfig a1;
  a1.ipv4 = IpCidr{IpAddress::V4(198, 19, 0, 1), 24};
  InterfaceConfig b1;
  b1.ipv4 = IpCidr{IpAddress::V4(198, 19, 0, 2), 15};  // 198.18.0.1 looks on-link from here
  a.AddInterface(path1.a(), a1);
  b.AddInterface(path1.b(), b1);
  const OpenResult l = a.Listen(Endpoint{{}, 80});
  ASSERT_TRUE(l.ok());
  const OpenResult c = b.ConnectFrom(Instant{}, IpAddress::V4(198, 19, 0, 2), Endpoint{IpAddress::V4(198, 18, 0, 1), 80});
  ASSERT_TRUE(c.ok());
  const std::vector<std::uint8_t> data = RandomBytes(100'000, 3);
  std::vector<std::uint8_t> got;
  SocketId s = kNoSocket;
  std::size_t sent = 0;
  sim::SimClock clock;
  clock.AddStack(a);
  clock.AddStack(b);
  clock.AddLink(path0);
  clock.AddLink(path1);
  clock.RunUntil([&] { return got.size() >= data.size(); }, [&] {
    if (s == kNoSocket) s = a.Accept(l.id);
    if (s != kNoSocket && sent < data.size()) sent += a.Send(s, std::span(data).subspan(sent)).bytes;
    std::array<std::uint8_t, 65536> buf{};
    const IoResult r = b.Recv(c.id, buf);
    if (r.error == TcpError::kOk) got.insert(got.end(), buf.begin(), buf.begin() + r.bytes);
  }, clock.now() + Duration::Millis(60'000));
  EXPECT_EQ(got, data);
  ASSERT_NE(s, kNoSocket);
  EXPECT_EQ(a.connection(s)->tuple().local.addr, IpAddress::V4(198, 18, 0, 1));
  EXPECT_EQ(a.iface(0).counters().tcp_out, 0u);
  EXPECT_EQ(a.iface(0).counters().tcp_in, 0u);
  EXPECT_GT(a.iface(1).counters().tcp_out, 0u);
  EXPECT_EQ(a.iface(1).counters().arp_replies, 1u);  // for 198.18.0.1, on path 1
}

}  // namespace
}  // namespace braid::ustack
