// braid-ustack: runs the ustack IP interface on one DPDK port, answering ARP, neighbour discovery and
// ping until SIGTERM or SIGINT. The signals are blocked before the EAL starts (its threads inherit
// the mask) and read from a signalfd in the main loop: no handler is installed anywhere.
//
//   braid-ustack --vdev net_af_packet0,iface=veth-x --ip 198.18.0.2/24 --ip6 2001:db8::2/64
//                [--port NAME] [--gw A.B.C.D] [--gw6 X::Y] [--pcap FILE] [--eal-arg ARG]...
//
// Prints "ready" once the port is up, and its counters and non-zero drop counters at exit.
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ustack/iface/interface.h"
#include "ustack/phy/dpdk_eal.h"
#include "ustack/phy/dpdk_port.h"
#include "ustack/phy/pcap_writer.h"

namespace {

using namespace braid::ustack;

struct Args {
  EalOptions eal;
  std::string port;
  InterfaceConfig iface;
  std::string pcap;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "braid-ustack: %s\nusage: braid-ustack --vdev SPEC [--vdev SPEC]... [--port NAME] "
               "[--ip A.B.C.D/N] [--ip6 X::Y/N] [--gw A.B.C.D] [--gw6 X::Y] [--pcap FILE] [--eal-arg ARG]...\n",
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

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string v = argv[++i];
    if (flag == "--vdev") a.eal.vdevs.push_back(v);
    else if (flag == "--port") a.port = v;
    else if (flag == "--ip") a.iface.ipv4 = ParseCidr(v, "--ip", true);
    else if (flag == "--ip6") a.iface.ipv6 = ParseCidr(v, "--ip6", false);
    else if (flag == "--gw") a.iface.ipv4_gateway = ParseIp(v, "--gw");
    else if (flag == "--gw6") a.iface.ipv6_gateway = ParseIp(v, "--gw6");
    else if (flag == "--pcap") a.pcap = v;
    else if (flag == "--eal-arg") a.eal.extra_args.push_back(v);
    else Usage("unknown option " + flag);
  }
  if (a.eal.vdevs.empty() && a.port.empty()) Usage("give a --vdev (or --port for a PCI port with --eal-arg)");
  if (a.port.empty()) a.port = a.eal.vdevs.front().substr(0, a.eal.vdevs.front().find(','));
  if (!a.iface.ipv4 && !a.iface.ipv6) Usage("give --ip and/or --ip6");
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

  try {
    Eal& eal = Eal::Init(args.eal);
    DpdkPort port(eal, DpdkPortOptions{.name = args.port});
    std::unique_ptr<PcapWriter> pcap;
    Device* dev = &port;
    if (!args.pcap.empty()) {
      timespec wall{};
      clock_gettime(CLOCK_REALTIME, &wall);
      const std::int64_t epoch = static_cast<std::int64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000 - Now().micros;
      pcap = std::make_unique<PcapWriter>(port, args.pcap, epoch);
      dev = pcap.get();
    }
    Interface iface(*dev, args.iface);
    std::printf("braid-ustack: port %s (driver %s) mac %s ready\n", args.port.c_str(),
                port.driver_name().c_str(), MacString(port.mac()).c_str());
    std::fflush(stdout);

    // Poll while frames come; when idle, wait up to 1 ms on the signalfd (which also ends the loop).
    unsigned busy_rounds = 0;
    for (;;) {
      const std::size_t n = iface.Poll(Now());
      bool check = false;
      int timeout_ms = 0;
      if (n == 0) {
        check = true;
        timeout_ms = 1;
      } else if (++busy_rounds % 1024 == 0) {
        check = true;
      }
      if (!check) continue;
      pollfd p{sfd, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN)) {
        signalfd_siginfo si{};
        if (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
          std::printf("braid-ustack: signal %u, stopping\n", si.ssi_signo);
          break;
        }
      }
    }

    const auto& c = iface.counters();
    std::printf("counters rx_frames=%llu tx_frames=%llu arp_replies=%llu nd_advertisements=%llu echo_replies=%llu\n",
                static_cast<unsigned long long>(c.rx_frames), static_cast<unsigned long long>(c.tx_frames),
                static_cast<unsigned long long>(c.arp_replies), static_cast<unsigned long long>(c.nd_advertisements),
                static_cast<unsigned long long>(c.echo_replies));
    for (std::size_t i = 0; i < static_cast<std::size_t>(IfaceDrop::kCount); ++i) {
      if (iface.drops()[i] != 0) {
        std::printf("drop %s=%llu\n", IfaceDropName(static_cast<IfaceDrop>(i)),
                    static_cast<unsigned long long>(iface.drops()[i]));
      }
    }
    if (pcap) pcap->file().Flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-ustack: %s\n", e.what());
    return 1;
  }
  return 0;
}
