// What keeps an established MPTCP connection honest (mptcp/integrity.h), between two whole Stacks
// over a MemoryLink on simulated time: a payload byte changed on the wire (TCP checksum fixed, as
// a rewriting middlebox does) fails the DSS checksum -> MP_FAIL and the infinite mapping, or the
// early TCP fallback; options stripped from data -> fallback; Abort -> MP_FASTCLOSE, and the peer's
// application sees a reset. Option-level cases (MP_TCPRST on RSTs, wrong MP_FASTCLOSE keys, a
// failed mapping held back) on crafted segments.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "mptcp_conn_fixture.h"
#include "sim_clock.h"
#include "tcp_sim.h"
#include "ustack/mptcp/dss_checksum.h"
#include "ustack/mptcp/join_hook.h"
#include "ustack/mptcp/mptcp_stack.h"
#include "ustack/phy/memory_link.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"

namespace braid::ustack::mptcp {
namespace {

using sim::RandomBytes;
using sim::SecretFor;

// A Device that lets a test rewrite the TCP segments it sends and receives (IPv4 only): the
// callbacks see the TCP header's options and the payload; the TCP checksum is made right again
// afterwards, as a rewriting middlebox does, so only MPTCP can tell.
class Mangler : public Device {
 public:
  struct Segment {
    std::span<std::uint8_t> options;  // TCP options (after the 20-byte header)
    std::span<std::uint8_t> payload;
  };
  using Fn = std::function<void(Segment&)>;
  explicit Mangler(Device& inner) : inner_(inner) {}
  Fn mangle;     // frames this side sends
  Fn mangle_rx;  // frames this side receives

  MacAddress mac() const override { return inner_.mac(); }
  DeviceCapabilities capabilities() const override { return inner_.capabilities(); }
  std::size_t Receive(Instant now, std::size_t max,
                      const std::function<void(std::span<const std::uint8_t>)>& on_frame) override {
    return inner_.Receive(now, max, [&](std::span<const std::uint8_t> frame) {
      std::vector<std::uint8_t> f(frame.begin(), frame.end());
      Rewrite(f, mangle_rx);
      on_frame(f);
    });
  }
  bool Transmit(Instant now, std::span<const std::uint8_t> frame) override {
    std::vector<std::uint8_t> f(frame.begin(), frame.end());
    Rewrite(f, mangle);
    return inner_.Transmit(now, f);
  }
  void Flush(Instant now) override { inner_.Flush(now); }

 private:
  static void Rewrite(std::vector<std::uint8_t>& f, const Fn& fn) {
    if (!fn || f.size() <= 34 || wire::Load16(&f[12]) != 0x0800 || f[23] != 6) return;
    const std::size_t ip = 14;
    const std::size_t ihl = (f[ip] & 0x0f) * 4u;
    const std::size_t total = wire::Load16(&f[ip + 2]);
    const std::size_t tcp = ip + ihl;
    const std::size_t doff = (f[tcp + 12] >> 4) * 4u;
    Segment s{std::span(f).subspan(tcp + 20, doff - 20), std::span(f).subspan(tcp + doff, ip + total - tcp - doff)};
    fn(s);
    const IpAddress src = IpAddress::V4(f[ip + 12], f[ip + 13], f[ip + 14], f[ip + 15]);
    const IpAddress dst = IpAddress::V4(f[ip + 16], f[ip + 17], f[ip + 18], f[ip + 19]);
    wire::Store16(&f[tcp + 16], 0);
    const auto seg = std::span<const std::uint8_t>(f).subspan(tcp, ip + total - tcp);
    wire::Store16(&f[tcp + 16], wire::UpperLayerChecksum(src, dst, 6, seg));
  }

  Device& inner_;
};

StackConfig ConfigFor(std::uint8_t host) {
  StackConfig c;
  c.iface.ipv4 = IpCidr{IpAddress::V4(198, 18, 0, host), 24};
  return c;
}

MptcpStackConfig Checksums(bool on) {
  MptcpStackConfig c;
  c.subflow.checksum = on;
  return c;
}

// Client a (its frames through a Mangler) and server b, one connection, simple applications: each
// side sends its `out`, shuts down, reads to EOF; a side whose connection fails stops.
class Net {
 public:
  explicit Net(bool checksums, std::uint64_t seed = 1)
      : link_(Options(seed)),
        mangler_(link_.a()),
        sa_(mangler_, ConfigFor(1), SecretFor(seed * 2 + 1)),
        sb_(link_.b(), ConfigFor(2), SecretFor(seed * 2 + 2)),
        a_(sa_, Checksums(checksums)),
        b_(sb_, Checksums(false)) {
    clock_.AddStack(a_);
    clock_.AddStack(b_);
    clock_.AddLink(link_);
  }

  struct Side {
    MptcpStack* stack = nullptr;
    SocketId id = kNoSocket;
    std::vector<std::uint8_t> out;
    std::size_t sent = 0;
    std::vector<std::uint8_t> in;
    bool shut = false;
    bool eof = false;
    std::optional<TcpError> error;
    bool mptcp_seen = false;  // Status().mptcp was true once
    bool closed = false;
  };

  Mangler& mangler() { return mangler_; }
  MptcpStack& a() { return a_; }
  MptcpStack& b() { return b_; }
  Side client;
  Side server;
  bool auto_close = true;  // close a side once it sent everything and read to EOF

  void Start(std::size_t a_bytes, std::size_t b_bytes) {
    const OpenResult l = b_.Listen(Endpoint{{}, 5001});
    ASSERT_TRUE(l.ok());
    listener_ = l.id;
    const OpenResult r = a_.Connect(clock_.now(), Endpoint{IpAddress::V4(198, 18, 0, 2), 5001});
    ASSERT_TRUE(r.ok());
    client.stack = &a_;
    client.id = r.id;
    client.out = RandomBytes(11, a_bytes);
    server.stack = &b_;
    server.out = RandomBytes(12, b_bytes);
  }

  bool Run(const std::function<bool()>& done) {
    return clock_.RunUntil(done, [this] { StepBoth(); }, Instant::FromMillis(600'000), 2'000'000);
  }
  bool Finished(const Side& s) const { return s.shut && s.eof; }
  bool Freed() {
    return a_.connection_count() == 0 && b_.connection_count() == 0 && sa_.tcp().connection_count() == 0 &&
           sb_.tcp().connection_count() == 0;
  }

 private:
  static MemoryLink::Options Options(std::uint64_t seed) {
    MemoryLink::Options o;
    o.seed = seed;
    LinkFaults f;
    f.delay = Duration::Millis(2);
    f.rate_bps = 200'000'000;
    o.a_to_b = f;
    o.b_to_a = f;
    return o;
  }

  void StepBoth() {
    if (server.id == kNoSocket) server.id = b_.Accept(listener_);
    Step(client);
    Step(server);
  }

  // The socket's status into `s`; false when it cannot move data (failed, or not connected yet).
  static bool Observe(Side& s) {
    const SocketStatus st = s.stack->Status(s.id);
    if (st.error != TcpError::kOk) {
      s.error = st.error;
      s.stack->Close(s.id);
      return false;
    }
    s.mptcp_seen = s.mptcp_seen || st.mptcp;
    return st.connected;
  }

  void Step(Side& s) {
    if (s.id == kNoSocket || s.error || s.closed) return;
    if (!Observe(s)) return;
    while (!s.shut && s.sent < s.out.size()) {
      const IoResult r = s.stack->Send(s.id, std::span(s.out).subspan(s.sent, std::min<std::size_t>(s.out.size() - s.sent, 30'000)));
      if (r.error != TcpError::kOk || r.bytes == 0) break;
      s.sent += r.bytes;
    }
    if (!s.shut && s.sent == s.out.size()) {
      s.stack->Shutdown(s.id);
      s.shut = true;
    }
    while (!s.eof) {
      std::array<std::uint8_t, 4096> buf;
      const IoResult r = s.stack->Recv(s.id, buf);
      if (r.error != TcpError::kOk) break;
      if (r.bytes == 0) {
        s.eof = true;
        break;
      }
      s.in.insert(s.in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
    if (auto_close && s.shut && s.eof) {
      s.stack->Close(s.id);
      s.closed = true;
    }
  }

  MemoryLink link_;
  Mangler mangler_;
  Stack sa_;
  Stack sb_;
  MptcpStack a_;
  MptcpStack b_;
  SocketId listener_ = kNoSocket;
  sim::SimClock clock_;

 public:
  Stack& stack_a() { return sa_; }
  Stack& stack_b() { return sb_; }
};

// The kind-30 option of `subtype` among TCP options, or empty.
std::span<std::uint8_t> FindMptcp(std::span<std::uint8_t> opts, Subtype subtype) {
  for (std::size_t i = 0; i < opts.size();) {
    if (opts[i] == 0) break;
    if (opts[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= opts.size() || opts[i + 1] < 2) break;
    const std::size_t len = opts[i + 1];
    if (opts[i] == 30 && len >= 3 && (opts[i + 2] >> 4) == static_cast<std::uint8_t>(subtype)) return opts.subspan(i, len);
    i += len;
  }
  return {};
}

std::uint64_t Count(const MptcpStack& s, IntegrityCounter c) { return s.integrity_counters().Get(c); }

std::size_t Differences(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) n += a[i] != b[i];
  return n;
}

TEST(MptcpIntegrity, ChecksumFailureOnTheOnlySubflowSendsMpFailAndBothFallBackByTheInfiniteMapping) {
  Net net(/*checksums=*/true);
  // The 100th data segment from a (valid checksums seen before it) gets one payload byte flipped.
  int data_frames = 0;
  net.mangler().mangle = [&](Mangler::Segment& s) {
    if (s.payload.empty() || ++data_frames != 100) return;
    s.payload[s.payload.size() / 2] ^= 0x5a;
  };
  net.Start(2'000'000, 300'000);
  ASSERT_TRUE(net.Run([&] { return net.Finished(net.client) && net.Finished(net.server); }));
  EXPECT_FALSE(net.client.error);
  EXPECT_FALSE(net.server.error);
  EXPECT_TRUE(net.client.mptcp_seen);
  // The receiver found it and said so; the sender answered and sent the infinite mapping.
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kDataCsumErr), 1u);
  EXPECT_GE(Count(net.b(), IntegrityCounter::kMpFailTx), 1u);
  EXPECT_GE(Count(net.a(), IntegrityCounter::kMpFailRx), 1u);
  EXPECT_GE(Count(net.a(), IntegrityCounter::kMpFailTx), 1u);  // the answer
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kInfiniteMapTx), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kInfiniteMapRx), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kCsumFallback), 0u);
  EXPECT_TRUE(net.a().IsFallback(net.client.id));
  EXPECT_TRUE(net.b().IsFallback(net.server.id));
  // As Linux, the failed mapping's bytes are delivered (the stream became TCP's): every byte
  // arrives, exactly the flipped one differs; the other direction is intact.
  ASSERT_EQ(net.server.in.size(), net.client.out.size());
  EXPECT_EQ(Differences(net.server.in, net.client.out), 1u);
  EXPECT_TRUE(net.client.in == net.server.out);
  ASSERT_TRUE(net.Run([&] { return net.Freed(); }));
}

TEST(MptcpIntegrity, ChecksumFailureOnTheFirstMappingFallsBackWithoutMpFail) {
  Net net(/*checksums=*/true);
  int data_frames = 0;
  net.mangler().mangle = [&](Mangler::Segment& s) {
    if (s.payload.empty() || ++data_frames != 1) return;
    s.payload[0] ^= 0xff;
  };
  net.Start(500'000, 0);  // b only receives: its first mapping is the corrupted one
  ASSERT_TRUE(net.Run([&] { return net.Finished(net.client) && net.Finished(net.server); }));
  EXPECT_FALSE(net.client.error);
  EXPECT_FALSE(net.server.error);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kDataCsumErr), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kCsumFallback), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kMpFailTx), 0u);
  // a learns it from b's ACKs without options (Linux MPCapableDataFallback).
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kDssFallback), 1u);
  EXPECT_TRUE(net.a().IsFallback(net.client.id));
  EXPECT_TRUE(net.b().IsFallback(net.server.id));
  ASSERT_EQ(net.server.in.size(), net.client.out.size());
  EXPECT_EQ(Differences(net.server.in, net.client.out), 1u);
  ASSERT_TRUE(net.Run([&] { return net.Freed(); }));
}

TEST(MptcpIntegrity, DataWithoutDssFallsBackToTcpWithEveryByteIntact) {
  Net net(/*checksums=*/false);
  // Something on the path removes DSS from b's data segments (NOPs in its place).
  net.mangler().mangle_rx = [&](Mangler::Segment& s) {
    if (s.payload.empty()) return;
    auto dss = FindMptcp(s.options, Subtype::kDss);
    std::fill(dss.begin(), dss.end(), std::uint8_t{1});
  };
  net.Start(0, 400'000);
  ASSERT_TRUE(net.Run([&] { return net.Finished(net.client) && net.Finished(net.server); }));
  EXPECT_FALSE(net.client.error);
  EXPECT_FALSE(net.server.error);
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kDssFallback), 1u);  // no mapping ever: a falls back
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kDssFallback), 1u);  // a's plain ACKs: b does too
  EXPECT_TRUE(net.a().IsFallback(net.client.id));
  EXPECT_TRUE(net.b().IsFallback(net.server.id));
  EXPECT_TRUE(net.client.in == net.server.out);
  ASSERT_TRUE(net.Run([&] { return net.Freed(); }));
}

TEST(MptcpIntegrity, AbortSendsMpFastcloseAndThePeersApplicationSeesAReset) {
  Net net(/*checksums=*/false);
  net.auto_close = false;
  std::vector<std::uint8_t> rst_options;
  net.mangler().mangle = [&](Mangler::Segment& s) {
    auto fc = FindMptcp(s.options, Subtype::kMpFastclose);
    if (!fc.empty()) rst_options.assign(s.options.begin(), s.options.end());
  };
  net.Start(3'000'000, 3'000'000);
  // Abort mid-transfer.
  ASSERT_TRUE(net.Run([&] { return net.server.in.size() > 200'000 && net.client.in.size() > 200'000; }));
  ASSERT_TRUE(net.a().IsMptcp(net.client.id));
  EXPECT_EQ(net.a().Abort(net.client.id), TcpError::kOk);
  net.client.error = TcpError::kClosed;  // a's application is done with it
  ASSERT_TRUE(net.Run([&] { return net.server.error.has_value(); }));
  EXPECT_EQ(*net.server.error, TcpError::kConnectionReset);
  EXPECT_LT(net.server.in.size(), net.client.out.size());
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kMpFastcloseTx), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kMpFastcloseRx), 1u);
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kMpFastcloseBadKey), 0u);
  // The RST carried MP_FASTCLOSE with b's key and an MP_TCPRST (Linux puts one on every RST).
  ASSERT_FALSE(rst_options.empty());
  EXPECT_EQ(Count(net.b(), IntegrityCounter::kMpTcpRstRx), 1u);
  EXPECT_EQ(net.b().integrity_counters().rst_reason_rx[kRstUnspecified], 1u);
  // Both stacks free every subflow (b once its application closed).
  ASSERT_TRUE(net.Run([&] { return net.Freed(); }));
}

TEST(MptcpIntegrity, AbortOfAFallenBackConnectionSendsAPlainRst) {
  Net net(/*checksums=*/false);
  net.auto_close = false;
  net.mangler().mangle_rx = [&](Mangler::Segment& s) {
    if (s.payload.empty()) return;
    auto dss = FindMptcp(s.options, Subtype::kDss);
    std::fill(dss.begin(), dss.end(), std::uint8_t{1});
  };
  net.Start(0, 3'000'000);
  ASSERT_TRUE(net.Run([&] { return net.client.in.size() > 100'000; }));
  ASSERT_TRUE(net.a().IsFallback(net.client.id));
  EXPECT_EQ(net.a().Abort(net.client.id), TcpError::kOk);
  net.client.error = TcpError::kClosed;
  ASSERT_TRUE(net.Run([&] { return net.server.error.has_value(); }));
  EXPECT_EQ(*net.server.error, TcpError::kConnectionReset);
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kMpFastcloseTx), 0u);
  EXPECT_EQ(Count(net.a(), IntegrityCounter::kMpTcpRstTx), 0u);
  ASSERT_TRUE(net.Run([&] { return net.Freed(); }));
}

// ---- option level, on crafted segments

constexpr std::uint64_t kLocalKey = 0x1122334455667788ull;
constexpr std::uint64_t kRemoteKey = 0x99aabbccddeeff00ull;

std::shared_ptr<MptcpConnState> Connection(IntegrityCounters& counters, bool checksums = false) {
  auto c = test::NegotiatedConnection(kLocalKey, kRemoteKey, checksums);
  c->counters = &counters;
  return c;
}

struct Crafted {
  TcpRepr repr;
  OptionBuffer options;
};

TEST(MptcpIntegrityOptions, MpFastcloseWithAWrongKeyIsIgnoredAndCountedTheRightOneResets) {
  IntegrityCounters counters;
  auto conn = Connection(counters);
  DssSubflow dss(conn, 1);
  Crafted wrong;
  wrong.repr.flags = kTcpAck;
  ASSERT_EQ(wrong.options.Append(MpFastclose{kLocalKey ^ 1}, &wrong.repr), wire::WireError::kOk);
  ReceivedOptions o;
  ParseOptions(wrong.repr, &o);
  EXPECT_TRUE(dss.In(wrong.repr, o));
  EXPECT_FALSE(conn->fastclosed);
  EXPECT_EQ(counters.Get(IntegrityCounter::kMpFastcloseBadKey), 1u);
  Crafted right;
  right.repr.flags = kTcpAck;
  ASSERT_EQ(right.options.Append(MpFastclose{kLocalKey}, &right.repr), wire::WireError::kOk);
  ParseOptions(right.repr, &o);
  EXPECT_FALSE(dss.In(right.repr, o));  // the subflow answers with a RST
  EXPECT_TRUE(conn->fastclosed);
  EXPECT_EQ(counters.Get(IntegrityCounter::kMpFastcloseRx), 1u);
}

TEST(MptcpIntegrityOptions, ResetOfASubflowCarriesMpFailAndItsMpTcprstReason) {
  IntegrityCounters counters;
  auto conn = Connection(counters);
  conn->mp_fail_owed[2] = 0x1234567890ull;
  conn->rst_reason[2] = kRstMiddleboxInterference;
  conn->msk->AddSubflow(2, SubflowParams{});
  DssSubflow dss(conn, 2);
  TcpRepr rst;
  rst.flags = kTcpRst;
  OptionBuffer out;
  dss.ResetOut(rst, out);
  ReceivedOptions o;
  ParseOptions(rst, &o);
  ASSERT_TRUE(o.has(kOptMpFail));
  EXPECT_EQ(o.fail.dsn, 0x1234567890ull);
  ASSERT_TRUE(o.has(kOptMpTcprst));
  EXPECT_EQ(o.tcprst.reason, kRstMiddleboxInterference);
  EXPECT_FALSE(o.has(kOptMpFastclose));
  EXPECT_EQ(counters.Get(IntegrityCounter::kMpFailTx), 1u);
  EXPECT_EQ(counters.Get(IntegrityCounter::kMpTcpRstTx), 1u);
  // The peer reads it.
  IntegrityCounters peer_counters;
  auto peer = Connection(peer_counters);
  DssSubflow peer_dss(peer, 2);
  peer_dss.ResetIn(rst);
  EXPECT_EQ(peer->peer_rst_reason, kRstMiddleboxInterference);
  EXPECT_EQ(peer_counters.rst_reason_rx[kRstMiddleboxInterference], 1u);
  EXPECT_EQ(peer_counters.Get(IntegrityCounter::kMpFailRx), 1u);
}

TEST(MptcpIntegrityOptions, RefusedJoinsCarryLinuxsMpTcprstReasons) {
  JoinCounters jc;
  IntegrityCounters counters;
  jc.integrity = &counters;
  // Unknown token: "MPTCP-specific error".
  JoinHook unknown(nullptr, 0, jc);
  Crafted syn;
  syn.repr.flags = kTcpSyn;
  ASSERT_EQ(syn.options.Append(MpJoinSyn{false, 0, 0xdeadbeef, 1}, &syn.repr), wire::WireError::kOk);
  EXPECT_FALSE(unknown.OnSegmentIn(syn.repr, TcpState::kSynReceived));
  TcpRepr rst;
  rst.flags = kTcpRst | kTcpAck;
  unknown.OnResetOut(rst);
  ReceivedOptions o;
  ParseOptions(rst, &o);
  ASSERT_TRUE(o.has(kOptMpTcprst));
  EXPECT_EQ(o.tcprst.reason, kRstMptcpError);
  // A connection that takes no subflow: "administratively prohibited".
  JoinHook prohibited(nullptr, 0, jc);
  prohibited.set_refuse_reason(kRstAdministrativelyProhibited);
  TcpRepr rst2;
  rst2.flags = kTcpRst | kTcpAck;
  prohibited.OnResetOut(rst2);
  ParseOptions(rst2, &o);
  EXPECT_EQ(o.tcprst.reason, kRstAdministrativelyProhibited);
  EXPECT_EQ(counters.Get(IntegrityCounter::kJoinRefusedRst), 2u);
}

TEST(MptcpIntegrityOptions, AJoinedSubflowForbidsTheInfiniteMappingFallback) {
  IntegrityCounters counters;
  auto conn = Connection(counters);
  conn->joined_ever = true;
  DssSubflow dss(conn, 1);
  Crafted seg;
  seg.repr.flags = kTcpAck;
  Dss d;
  d.data_ack = DataAck{conn->local_key->idsn + 1};
  d.mapping = DssMapping{.dsn = conn->remote_key->idsn + 1, .ssn = 1, .length = 0};
  ASSERT_EQ(seg.options.Append(d, &seg.repr), wire::WireError::kOk);
  ReceivedOptions o;
  ParseOptions(seg.repr, &o);
  EXPECT_FALSE(dss.In(seg.repr, o));  // reset, not fallback
  EXPECT_FALSE(conn->fallback);
  EXPECT_EQ(conn->rst_reason[1], kRstMptcpError);
  EXPECT_EQ(counters.Get(IntegrityCounter::kInfiniteMapRefused), 1u);
}

TEST(MptcpIntegrityMsk, AFailedMappingIsHeldUntilAcceptedAndACorrectOneAcrossAWrapIsTaken) {
  MskConfig cfg;
  cfg.checksums = true;
  Msk m(cfg, 100, 1000);
  m.AddSubflow(1, SubflowParams{});
  std::vector<std::uint8_t> data = RandomBytes(3, 301);  // odd: the wrapped tail's sum is byte-swapped
  DssMapping good{.dsn = 1001, .ssn = 1, .length = 301};
  good.checksum = DssChecksum(1001, 1, 301, data);
  ASSERT_EQ(m.OnMapping(1, good), MappingStatus::kOk);
  // The bytes in two pieces (a wrapped ring buffer): nothing is taken from the first piece alone...
  EXPECT_EQ(m.OnSubflowData(1, std::span(data).first(151)), 0u);
  // ...and all of it once the rest is visible.
  EXPECT_EQ(m.OnSubflowData(1, std::span(data).first(151), std::span(data).subspan(151)), 151u);
  EXPECT_EQ(m.OnSubflowData(1, std::span(data).subspan(151)), 150u);
  EXPECT_TRUE(m.valid_checksum_seen(1));
  // A mapping whose bytes changed on the way.
  std::vector<std::uint8_t> next = RandomBytes(4, 100);
  DssMapping bad{.dsn = 1302, .ssn = 302, .length = 100};
  bad.checksum = DssChecksum(1302, 302, 100, next);
  next[10] ^= 1;
  ASSERT_EQ(m.OnMapping(1, bad), MappingStatus::kOk);
  EXPECT_EQ(m.OnSubflowData(1, next), 0u);
  ASSERT_TRUE(m.checksum_failure(1));
  EXPECT_EQ(*m.checksum_failure(1), 1302u);
  EXPECT_EQ(m.counters().data_csum_err, 1u);
  EXPECT_EQ(m.OnSubflowData(1, next), 0u);  // held, counted once
  EXPECT_EQ(m.counters().data_csum_err, 1u);
  m.AcceptFailedMapping(1);
  EXPECT_EQ(m.OnSubflowData(1, next), 100u);
  EXPECT_EQ(m.readable(), 401u);
}

}  // namespace
}  // namespace braid::ustack::mptcp
