// braid-ustack: runs the ustack (IP interface + TCP) on one DPDK port as a small test program for
// interop tests and benchmarks with unmodified Linux programs. ARP, neighbour discovery and ping are
// always answered; --mode picks the TCP application (tools/ustack_app.h):
//
//   braid-ustack --vdev net_af_packet0,iface=veth-x --ip 198.18.0.2/24 --ip6 2001:db8::2/64
//                [--mode ping|echo|sink|source|rr] [--port N] [--connect HOST:PORT] [--bytes N]
//                [--count N] [--size N] [--busy-poll] [--wait-stdin] [--no-hash] [--zero-copy] [--mptcp] [--dev NAME]
//                [--abort-after BYTES] [--mptcp-checksum]
//                [--gw A.B.C.D] [--gw6 X::Y]
//                [--pcap FILE] [--eal-arg ARG]...
//
//   echo|sink|source with --port N: a server on port N (every address) until SIGTERM, one JSON line
//     per finished connection; sink|source|rr with --connect HOST:PORT (IPv6 as [X::Y]:PORT): one
//     connection, one JSON result line, then exit (status 1 when the connection failed).
//   --mptcp: the application runs on mptcp::MptcpStack: clients offer MP_CAPABLE, servers accept
//     MPTCP and plain TCP alike; lines of MPTCP connections carry "mptcp":true.
//   --mptcp-checksum: ask for DSS checksums (our MP_CAPABLE A bit).
//   --abort-after BYTES: abort each connection (RST; MP_FASTCLOSE over MPTCP) once it moved BYTES.
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

#include "ustack/phy/dpdk_eal.h"
#include "ustack/phy/dpdk_mbuf_buffer.h"
#include "ustack/phy/dpdk_port.h"
#include "ustack/phy/pcap_writer.h"
#include "ustack/mptcp/mptcp_stack.h"
#include "ustack/stack/stack.h"
#include "ustack/tools/ustack_app.h"

namespace {

using namespace braid::ustack;
using braid::ustack::tools::App;
using braid::ustack::tools::AppMode;
using braid::ustack::tools::AppOptions;

struct Args {
  EalOptions eal;
  std::string dev;
  StackConfig stack;
  std::string pcap;
  AppOptions app;
  bool busy_poll = false;
  bool wait_stdin = false;  // start the application only after a line on stdin
  bool zero_copy = false;   // source: send from mbuf-backed buffers (MbufBufferPool, SendBuffer)
  bool mptcp = false;       // MPTCP: clients offer it, servers accept it; both fall back to TCP
  bool mptcp_checksum = false;  // MPTCP: ask for DSS checksums
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "braid-ustack: %s\nusage: braid-ustack --vdev SPEC [--vdev SPEC]... [--dev NAME] "
               "[--ip A.B.C.D/N] [--ip6 X::Y/N] [--gw A.B.C.D] [--gw6 X::Y] [--pcap FILE] [--eal-arg ARG]...\n"
               "         [--mode ping|echo|sink|source|rr] [--port N] [--connect HOST:PORT] [--bytes N]\n"
               "         [--count N] [--size N] [--busy-poll] [--wait-stdin] [--no-hash] [--zero-copy] [--mptcp]\n"
               "         [--mptcp-checksum] [--abort-after BYTES]\n",
               why.c_str());
  std::exit(2);
}

IpAddress ParseIp(const std::string& s, const char* flag) {
  IpAddress ip;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    return IpAddress::V4(b[0], b[1], b[2], b[3]);
  }
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) return ip;
  Usage(std::string(flag) + ": not an IP address: " + s);
}

IpCidr ParseCidr(const std::string& s, const char* flag, bool v4) {
  const auto slash = s.find('/');
  IpCidr c;
  c.addr = ParseIp(s.substr(0, slash), flag);
  if (c.addr.is_v4() != v4) Usage(std::string(flag) + ": wrong address family: " + s);
  const int max = v4 ? 32 : 128;
  int len = max;
  if (slash != std::string::npos) {
    try {
      len = std::stoi(s.substr(slash + 1));
    } catch (...) {
      len = -1;
    }
  }
  if (len < 0 || len > max) Usage(std::string(flag) + ": bad prefix length: " + s);
  c.prefix_len = static_cast<std::uint8_t>(len);
  return c;
}

std::uint64_t ParseNumber(const std::string& s, const char* flag, std::uint64_t max) {
  std::size_t used = 0;
  std::uint64_t v = 0;
  try {
    v = std::stoull(s, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != s.size() || v > max) Usage(std::string(flag) + ": not a number up to " + std::to_string(max) + ": " + s);
  return v;
}

// HOST:PORT, IPv6 as [X::Y]:PORT.
Endpoint ParseHostPort(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) Usage("--connect: want HOST:PORT, got " + s);
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return Endpoint{ParseIp(host, "--connect"), static_cast<std::uint16_t>(ParseNumber(s.substr(colon + 1), "--connect port", 65535))};
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--busy-poll") {
      a.busy_poll = true;
      continue;
    }
    if (flag == "--mptcp") {
      a.mptcp = true;
      continue;
    }
    if (flag == "--mptcp-checksum") {
      a.mptcp_checksum = true;
      continue;
    }
    if (flag == "--zero-copy") {
      a.zero_copy = true;
      continue;
    }
    if (flag == "--no-hash") {
      a.app.hash = false;
      continue;
    }
    if (flag == "--wait-stdin") {
      a.wait_stdin = true;
      continue;
    }
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string v = argv[++i];
    if (flag == "--vdev") a.eal.vdevs.push_back(v);
    else if (flag == "--dev") a.dev = v;
    else if (flag == "--ip") a.stack.iface.ipv4 = ParseCidr(v, "--ip", true);
    else if (flag == "--ip6") a.stack.iface.ipv6 = ParseCidr(v, "--ip6", false);
    else if (flag == "--gw") a.stack.iface.ipv4_gateway = ParseIp(v, "--gw");
    else if (flag == "--gw6") a.stack.iface.ipv6_gateway = ParseIp(v, "--gw6");
    else if (flag == "--pcap") a.pcap = v;
    else if (flag == "--eal-arg") a.eal.extra_args.push_back(v);
    else if (flag == "--mode") {
      const auto m = tools::ParseAppMode(v);
      if (!m) Usage("--mode: one of ping, echo, sink, source, rr; got " + v);
      a.app.mode = *m;
    } else if (flag == "--port") a.app.port = static_cast<std::uint16_t>(ParseNumber(v, "--port", 65535));
    else if (flag == "--connect") a.app.connect = ParseHostPort(v);
    else if (flag == "--bytes") a.app.bytes = ParseNumber(v, "--bytes", UINT64_MAX);
    else if (flag == "--count") a.app.count = ParseNumber(v, "--count", UINT32_MAX);
    else if (flag == "--size") a.app.size = ParseNumber(v, "--size", 1 << 20);
    else if (flag == "--abort-after") a.app.abort_after = ParseNumber(v, "--abort-after", UINT64_MAX);
    else Usage("unknown option " + flag);
  }
  if (a.eal.vdevs.empty() && a.dev.empty()) Usage("give a --vdev (or --dev for a PCI port with --eal-arg)");
  if (a.dev.empty()) a.dev = a.eal.vdevs.front().substr(0, a.eal.vdevs.front().find(','));
  if (!a.stack.iface.ipv4 && !a.stack.iface.ipv6) Usage("give --ip and/or --ip6");
  const AppMode m = a.app.mode;
  if (m == AppMode::kRr && !a.app.connect) Usage("--mode rr needs --connect");
  if (m == AppMode::kEcho && a.app.connect) Usage("--mode echo is a server: give --port, not --connect");
  if (m != AppMode::kPing && !a.app.connect && a.app.port == 0) Usage("--mode needs --port N (server) or --connect HOST:PORT");
  // Echo and rr move small messages: Nagle would hold them behind the previous one's ACK.
  if (m == AppMode::kEcho || m == AppMode::kRr) a.stack.tcp.nodelay = true;
  return a;
}

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

void PrintCounters(Stack& stack, const DpdkPort& port) {
  const auto& c = stack.iface().counters();
  std::printf("counters rx_frames=%llu tx_frames=%llu arp_replies=%llu nd_advertisements=%llu echo_replies=%llu "
              "tcp_in=%llu tcp_out=%llu port_tx_full=%llu\n",
              static_cast<unsigned long long>(c.rx_frames), static_cast<unsigned long long>(c.tx_frames),
              static_cast<unsigned long long>(c.arp_replies), static_cast<unsigned long long>(c.nd_advertisements),
              static_cast<unsigned long long>(c.echo_replies), static_cast<unsigned long long>(c.tcp_in),
              static_cast<unsigned long long>(c.tcp_out), static_cast<unsigned long long>(port.stats().tx_full));
  // What the driver lost on its own: tests use it to tell path loss from our bugs.
  const DpdkPortDriverStats d = port.driver_stats();
  std::printf("driver imissed=%llu ierrors=%llu oerrors=%llu rx_nombuf=%llu\n", static_cast<unsigned long long>(d.imissed),
              static_cast<unsigned long long>(d.ierrors), static_cast<unsigned long long>(d.oerrors),
              static_cast<unsigned long long>(d.rx_nombuf));
  for (std::size_t i = 0; i < static_cast<std::size_t>(IfaceDrop::kCount); ++i) {
    if (stack.iface().drops()[i] != 0) {
      std::printf("drop %s=%llu\n", IfaceDropName(static_cast<IfaceDrop>(i)),
                  static_cast<unsigned long long>(stack.iface().drops()[i]));
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
  const Args args = ParseArgs(argc, argv);

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
    DpdkPort port(eal, DpdkPortOptions{.name = args.dev});
    std::unique_ptr<PcapWriter> pcap;
    Device* dev = &port;
    if (!args.pcap.empty()) {
      timespec wall{};
      clock_gettime(CLOCK_REALTIME, &wall);
      const std::int64_t epoch = static_cast<std::int64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000 - Now().micros;
      pcap = std::make_unique<PcapWriter>(port, args.pcap, epoch);
      dev = pcap.get();
    }
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
    Stack stack(*dev, args.stack, IsnGenerator::Random());
    std::unique_ptr<mptcp::MptcpStack> mp;
    if (args.mptcp) {
      mptcp::MptcpStackConfig mc;
      mc.subflow.checksum = args.mptcp_checksum;
      mp = std::make_unique<mptcp::MptcpStack>(stack, mc);
    }
    SocketApi& api = mp ? static_cast<SocketApi&>(*mp) : stack;
    const auto poll = [&](Instant now) { return mp ? mp->Poll(now) : stack.Poll(now); };
    const auto next_deadline = [&] { return mp ? mp->NextDeadline() : stack.NextDeadline(); };
    App app(api, app_options, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
    std::printf("braid-ustack: port %s (driver %s) mac %s ready\n", args.dev.c_str(), port.driver_name().c_str(),
                MacString(port.mac()).c_str());
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
    PrintCounters(stack, port);
    if (mp) PrintMptcpCounters(*mp);
    if (pcap) pcap->file().Flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-ustack: %s\n", e.what());
    return 1;
  }
  std::fflush(stdout);
  return status;
}
