// braid-ustack: runs the ustack (IP interfaces + TCP, optionally MPTCP) on one or more DPDK ports as
// a small test program for interop tests and benchmarks with unmodified Linux programs. ARP,
// neighbour discovery and ping are always answered; --mode picks the TCP application
// (tools/ustack_app.h):
//
//   braid-ustack --vdev net_af_packet0,iface=veth-x --ip 198.18.0.2/24 [--ip6 2001:db8::2/64]
//                [--gw A.B.C.D] [--gw6 X::Y] [--pcap FILE]
//                [--vdev net_af_packet1,iface=veth-y --ip 198.18.1.2/24 [--pcap FILE2]]...
//                [--mode ping|echo|sink|source|rr] [--port N] [--connect HOST:PORT] [--bytes N]
//                [--count N] [--size N] [--busy-poll] [--wait-stdin] [--no-hash] [--zero-copy] [--no-tlp]
//                [--mptcp [--scheduler minrtt|roundrobin|redundant] [--backup-path N]...
//                         [--no-signal-path N]... [--no-subflow-path N]... [--link-poll-ms N]]
//                [--mptcp-checksum] [--abort-after BYTES] [--eal-arg ARG]...
//
//   Each --vdev (or --dev NAME, a port the EAL has from --eal-arg) opens an interface; the address,
//   gateway and capture flags after it are its own (tools/ustack_args.h). With several interfaces,
//   a segment leaves through the one owning its local address: one interface per MPTCP path.
//   echo|sink|source with --port N: a server on port N (every address) until SIGTERM, one JSON line
//     per finished connection; sink|source|rr with --connect HOST:PORT (IPv6 as [X::Y]:PORT): one
//     connection, one JSON result line, then exit (status 1 when the connection failed).
//   --mptcp: the application runs on mptcp::MptcpStack: clients offer MP_CAPABLE, servers accept
//     MPTCP and plain TCP alike; lines of MPTCP connections carry "mptcp":true and, per subflow,
//     "paths":[{local, remote, ids, backup, bytes each way}]. --backup-path N flags interface N's
//     subflows backup; port links are read every --link-poll-ms (tools/link_monitor.h) and a link
//     going down or up is printed ({"event":"link",...}) and told to the path manager.
//   --mptcp-checksum: ask for DSS checksums (our MP_CAPABLE A bit).
//   --abort-after BYTES: abort each connection (RST; MP_FASTCLOSE over MPTCP) once it moved BYTES.
//   --no-tlp: no tail loss probes (TcpConfig::tail_loss_probe), to measure what they change.
//
// SIGTERM and SIGINT are blocked before the EAL starts (its threads inherit the mask) and read from
// a signalfd in the main loop: no handler is installed anywhere. The loop busy-polls while traffic
// flows and, unless --busy-poll, sleeps (on the signalfd, up to 1 ms or the stack's next deadline)
// after 2 ms without any. Prints "ready" once the port is up (with --wait-stdin, the application
// starts only after a line on stdin), and its counters at exit.
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ustack/mptcp/mptcp_stack.h"
#include "ustack/phy/dpdk_eal.h"
#include "ustack/phy/dpdk_mbuf_buffer.h"
#include "ustack/stack/stack.h"
#include "ustack/tools/link_monitor.h"
#include "ustack/tools/mptcp_paths.h"
#include "ustack/tools/port_set.h"
#include "ustack/tools/ustack_app.h"
#include "ustack/tools/ustack_args.h"

namespace {

using namespace braid::ustack;
using braid::ustack::tools::App;
using braid::ustack::tools::AppMode;
using braid::ustack::tools::AppOptions;
using braid::ustack::tools::Args;
using braid::ustack::tools::PortSet;

Instant Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Instant{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000};
}

std::string MacString(const MacAddress& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

// True when a SIGTERM/SIGINT was read; waits up to `timeout_us` for one.
bool SignalArrived(int sfd, std::int64_t timeout_us) {
  pollfd p{sfd, POLLIN, 0};
  const timespec ts{static_cast<time_t>(timeout_us / 1'000'000), static_cast<long>(timeout_us % 1'000'000) * 1000};
  if (ppoll(&p, 1, &ts, nullptr) > 0 && (p.revents & POLLIN)) {
    signalfd_siginfo si{};
    if (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      std::printf("braid-ustack: signal %u, stopping\n", si.ssi_signo);
      return true;
    }
  }
  return false;
}

void PrintCounters(Stack& stack, const PortSet& ports) {
  // Interface 0's lines keep their one-port form; the others are prefixed "ifN ".
  for (std::size_t n = 0; n < ports.size(); ++n) {
    const std::string pre = n == 0 ? "" : "if" + std::to_string(n) + " ";
    Interface& iface = stack.iface(n);
    const DpdkPort& port = ports.port(n);
    const auto& c = iface.counters();
    std::printf("%scounters rx_frames=%llu tx_frames=%llu arp_replies=%llu nd_advertisements=%llu echo_replies=%llu "
                "tcp_in=%llu tcp_out=%llu port_tx_full=%llu\n",
                pre.c_str(), static_cast<unsigned long long>(c.rx_frames), static_cast<unsigned long long>(c.tx_frames),
                static_cast<unsigned long long>(c.arp_replies), static_cast<unsigned long long>(c.nd_advertisements),
                static_cast<unsigned long long>(c.echo_replies), static_cast<unsigned long long>(c.tcp_in),
                static_cast<unsigned long long>(c.tcp_out), static_cast<unsigned long long>(port.stats().tx_full));
    // What the driver lost on its own: tests use it to tell path loss from our bugs.
    const DpdkPortDriverStats d = port.driver_stats();
    std::printf("%sdriver imissed=%llu ierrors=%llu oerrors=%llu rx_nombuf=%llu\n", pre.c_str(),
                static_cast<unsigned long long>(d.imissed), static_cast<unsigned long long>(d.ierrors),
                static_cast<unsigned long long>(d.oerrors), static_cast<unsigned long long>(d.rx_nombuf));
    for (std::size_t i = 0; i < static_cast<std::size_t>(IfaceDrop::kCount); ++i) {
      if (iface.drops()[i] != 0) {
        std::printf("%sdrop %s=%llu\n", pre.c_str(), IfaceDropName(static_cast<IfaceDrop>(i)),
                    static_cast<unsigned long long>(iface.drops()[i]));
      }
    }
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(TcpCounter::kCount); ++i) {
    const auto v = stack.tcp().counters().Get(static_cast<TcpCounter>(i));
    if (v != 0) std::printf("tcp %s=%llu\n", TcpCounterName(static_cast<TcpCounter>(i)), static_cast<unsigned long long>(v));
  }
}

void PrintMptcpCounters(const mptcp::MptcpStack& mp) {
  const auto& h = mp.handshake_counters();
  for (std::size_t i = 0; i < static_cast<std::size_t>(mptcp::HandshakeCounter::kCount); ++i) {
    const auto c = static_cast<mptcp::HandshakeCounter>(i);
    if (h.Get(c) != 0) {
      std::printf("mptcp %s=%llu\n", mptcp::HandshakeCounterName(c), static_cast<unsigned long long>(h.Get(c)));
    }
  }
  const mptcp::JoinCounters& j = mp.join_counters();
  const std::pair<const char*, std::uint64_t> joins[] = {{"JoinSynRx", j.syn_rx}, {"JoinNoToken", j.no_token},
      {"JoinAckRx", j.ack_rx}, {"JoinAckHmacFailure", j.ack_hmac_failure}, {"JoinAckMissing", j.ack_missing}};
  for (const auto& [name, v] : joins) {
    if (v != 0) std::printf("mptcp %s=%llu\n", name, static_cast<unsigned long long>(v));
  }
  const mptcp::PathCounters& p = mp.path_counters();
  for (std::size_t i = 0; i < static_cast<std::size_t>(mptcp::PathCounter::kCount); ++i) {
    const auto c = static_cast<mptcp::PathCounter>(i);
    if (p.Get(c) != 0) std::printf("mptcp %s=%llu\n", mptcp::PathCounterName(c), static_cast<unsigned long long>(p.Get(c)));
  }
  const auto& g = mp.integrity_counters();
  for (std::size_t i = 0; i < static_cast<std::size_t>(mptcp::IntegrityCounter::kCount); ++i) {
    const auto c = static_cast<mptcp::IntegrityCounter>(i);
    if (g.Get(c) != 0) std::printf("mptcp %s=%llu\n", mptcp::IntegrityCounterName(c), static_cast<unsigned long long>(g.Get(c)));
  }
  for (std::size_t r = 0; r < g.rst_reason_rx.size(); ++r) {
    if (g.rst_reason_rx[r] != 0) std::printf("mptcp MpTcpRstRxReason%zu=%llu\n", r, static_cast<unsigned long long>(g.rst_reason_rx[r]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = tools::ParseArgs(argc, argv);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop, nullptr) != 0) {
    std::perror("braid-ustack: pthread_sigmask");
    return 1;
  }
  const int sfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("braid-ustack: signalfd");
    return 1;
  }

  int status = 0;
  try {
    Eal& eal = Eal::Init(args.eal);
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    const std::int64_t epoch = static_cast<std::int64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000 - Now().micros;
    PortSet ports(eal, args.ports, epoch);
    // Declared before the stack, so buffers still queued in it are freed before their pool.
    std::unique_ptr<MbufBufferPool> buffers;
    AppOptions app_options = args.app;
    if (args.zero_copy) {
      // 45 full segments of 1448 bytes per buffer: segments do not straddle buffers.
      buffers = std::make_unique<MbufBufferPool>(eal, "braid_app_buffers", 63, 45 * 1448);
      app_options.buffer_room = buffers->room();
      app_options.make_buffer = [&buffers](std::span<const std::uint8_t> data) {
        return buffers->Make(data.size(), [&](std::span<std::uint8_t> out) { std::memcpy(out.data(), data.data(), data.size()); });
      };
    }
    Stack stack(ports.device(0), args.stack, IsnGenerator::Random());
    for (std::size_t i = 1; i < ports.size(); ++i) stack.AddInterface(ports.device(i), args.ports[i].iface);
    std::unique_ptr<mptcp::MptcpStack> mp;
    if (args.mptcp) {
      mp = std::make_unique<mptcp::MptcpStack>(stack, tools::MptcpConfigFrom(args));
      app_options.subflows = [&mp](SocketId id) { return tools::SubflowReports(*mp, id); };
    }
    std::vector<tools::LinkMonitor::Link> links;
    for (std::size_t i = 0; i < ports.size(); ++i) links.push_back({&ports.port(i), args.ports[i].kernel_iface});
    tools::LinkMonitor link_monitor(std::move(links), Duration::Millis(args.link_poll_ms));
    const auto on_link = [&](std::size_t i, bool up) {
      std::printf("{\"event\":\"link\",\"interface\":%zu,\"port\":\"%s\",\"up\":%s}\n", i, args.ports[i].dev.c_str(),
                  up ? "true" : "false");
      std::fflush(stdout);
      if (mp) tools::SetPathUp(*mp, Now(), i, up);
    };
    SocketApi& api = mp ? static_cast<SocketApi&>(*mp) : stack;
    const auto poll = [&](Instant now) { return mp ? mp->Poll(now) : stack.Poll(now); };
    const auto next_deadline = [&] { return mp ? mp->NextDeadline() : stack.NextDeadline(); };
    App app(api, app_options, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
    // One line per port; the last one ends in "ready" (tests wait for it).
    for (std::size_t i = 0; i < ports.size(); ++i) {
      std::printf("braid-ustack: port %s (driver %s) mac %s%s\n", args.ports[i].dev.c_str(), ports.port(i).driver_name().c_str(),
                  MacString(ports.port(i).mac()).c_str(), i + 1 == ports.size() ? " ready" : "");
    }
    std::fflush(stdout);
    if (args.wait_stdin) {
      // A test configures the far side first (a net_tap interface exists only once we run).
      char line[64];
      if (std::fgets(line, sizeof line, stdin) == nullptr) throw std::runtime_error("--wait-stdin: stdin closed");
    }
    app.Start(Now());

    constexpr std::int64_t kIdleBeforeSleepUs = 2000;
    constexpr std::int64_t kMaxSleepUs = 1000;
    Instant last_busy = Now();
    unsigned rounds = 0;
    for (;;) {
      const Instant now = Now();
      link_monitor.Poll(now, on_link);
      const StackPollResult r = poll(now);
      const bool app_busy = app.Step(now);
      if (app.done()) {
        poll(Now());  // the last segments the application queued
        break;
      }
      if (r.busy() || app_busy) last_busy = now;
      const bool idle = !args.busy_poll && (now - last_busy).micros > kIdleBeforeSleepUs;
      if (!idle) {
        if (++rounds % 4096 == 0 && SignalArrived(sfd, 0)) break;
        continue;
      }
      std::int64_t sleep_us = kMaxSleepUs;
      if (auto next = next_deadline()) sleep_us = std::clamp<std::int64_t>((*next - now).micros, 0, kMaxSleepUs);
      if (SignalArrived(sfd, sleep_us)) break;
    }
    if (!args.app.connect && args.app.mode != AppMode::kPing) std::printf("%s\n", app.Summary().c_str());
    if (args.app.connect && !app.ok()) status = 1;
    PrintCounters(stack, ports);
    if (mp) PrintMptcpCounters(*mp);
    ports.FlushCaptures();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-ustack: %s\n", e.what());
    return 1;
  }
  std::fflush(stdout);
  return status;
}
