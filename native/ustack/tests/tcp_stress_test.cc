// Many short random runs: random configs (CC, SACK, timestamps, window scaling, tiny buffers,
// nodelay) over links with 0-30% loss, duplication, reordering, with and without a rate limit.
// Every byte is verified both ways; a run that stalls names its seed and both ends' state.
#include <gtest/gtest.h>

#include <sstream>

#include "ustack/tests/tcp_sim.h"

namespace braid::ustack {
namespace {

using sim::Net;
using sim::Peer;

std::string Describe(TcpConnection* c) {
  if (c == nullptr) return "gone";
  std::ostringstream o;
  o << TcpStateName(c->state()) << " err=" << TcpErrorName(c->error()) << " una=" << c->snd_una()
    << " nxt=" << c->snd_nxt() << " wnd=" << c->snd_wnd() << " queued=" << c->send_queued()
    << " cwnd=" << c->congestion().cwnd() << " rto_us=" << c->rtt().rto().micros << " rcv_nxt=" << c->rcv_nxt();
  return o.str();
}

TEST(TcpStress, RandomConfigsAndLinks) {
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    TcpConfig cfg = sim::SimConfig();
    cfg.congestion = seed % 2 ? CongestionAlgorithm::kCubic : CongestionAlgorithm::kNewReno;
    cfg.sack = seed % 3 != 0;
    cfg.timestamps = seed % 5 != 0;
    cfg.window_scaling = seed % 7 != 0;
    if (seed % 4 == 0) cfg.rx_buffer = 4096 + seed * 37;
    cfg.nodelay = seed % 6 == 0;
    // At 30% loss each way a round trip fails half the time: 15 failures in a row (Linux's
    // tcp_retries2) do happen across hundreds of runs, and are a correct timeout, not a bug.
    cfg.max_retransmits = 40;
    sim::LinkConfig link;
    link.loss = static_cast<double>(seed % 7) * 0.05;
    link.duplicate = 0.02;
    link.reorder = 0.1;
    link.delay = Duration::Millis(1 + static_cast<std::int64_t>(seed % 30));
    link.rate_bytes_per_sec = seed % 3 ? 5'000'000 : 0;
    link.seed = seed;
    Net net(cfg, cfg, link);
    sim::Rng sizes(seed);
    OpenResult l = net.b().Listen(Endpoint{Net::addr(Net::kB), 8080});
    OpenResult c = net.a().Connect(net.now(), Net::addr(Net::kA), Endpoint{Net::addr(Net::kB), 8080});
    Peer pa{c.id, sim::RandomBytes(seed, sizes.Below(200'000))};
    Peer pb{kNoSocket, sim::RandomBytes(seed + 100'000, sizes.Below(100'000))};
    net.app = [&] {
      if (pb.id == kNoSocket) pb.id = net.b().Accept(l.id);
      pa.Pump(net.a());
      if (pb.id != kNoSocket) pb.Pump(net.b());
    };
    bool done = net.RunUntil([&] { return pa.done() && pb.done(); });
    bool same = pa.received == pb.to_send && pb.received == pa.to_send;
    ASSERT_TRUE(done && same) << "seed " << seed << " loss " << link.loss << " done=" << done << " same=" << same
                              << "\n  A: " << Describe(net.a().Get(pa.id))
                              << "\n  B: " << Describe(pb.id != kNoSocket ? net.b().Get(pb.id) : nullptr);
  }
}

}  // namespace
}  // namespace braid::ustack
