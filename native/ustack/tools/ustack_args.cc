#include "ustack/tools/ustack_args.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>

namespace braid::ustack::tools {

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "braid-ustack: %s\n"
               "usage: braid-ustack {--vdev SPEC | --dev NAME} [--ip A.B.C.D/N] [--ip6 X::Y/N] [--gw A.B.C.D] [--gw6 X::Y]\n"
               "                    [--pcap FILE]   (repeat the group per interface: one DPDK port per path)\n"
               "         [--eal-arg ARG]... [--mode ping|echo|sink|source|rr] [--port N] [--connect HOST:PORT] [--bytes N]\n"
               "         [--count N] [--size N] [--busy-poll] [--wait-stdin] [--no-hash] [--zero-copy] [--no-tlp]\n"
               "         [--mptcp [--scheduler minrtt|roundrobin|redundant] [--backup-path N]... [--no-signal-path N]...\n"
               "                  [--no-subflow-path N]... [--link-poll-ms N] [--mptcp-checksum]] [--abort-after BYTES]\n",
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

std::optional<mptcp::SchedulerKind> ParseScheduler(const std::string& s) {
  if (s == "minrtt") return mptcp::SchedulerKind::kMinRtt;
  if (s == "roundrobin") return mptcp::SchedulerKind::kRoundRobin;
  if (s == "redundant") return mptcp::SchedulerKind::kRedundant;
  return std::nullopt;
}

// The value of `key=` in a vdev's comma-separated arguments ("" when absent).
std::string VdevArg(const std::string& spec, const std::string& key) {
  std::size_t at = spec.find(',');
  while (at != std::string::npos) {
    const std::size_t next = spec.find(',', at + 1);
    const std::string kv = spec.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
    at = next;
  }
  return "";
}

}  // namespace

Args ParseArgs(int argc, char** argv) {
  Args a;
  a.ports.emplace_back();
  bool opened = false;  // ports.back() has its port (--vdev/--dev seen)
  bool from_vdev = false;
  // Flags naming a path are checked once every interface is known.
  std::vector<std::pair<std::string, std::uint64_t>> path_flags;
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
    if (flag == "--no-tlp") {
      a.stack.tcp.tail_loss_probe = false;  // e.g. to measure what tail loss probes win
      continue;
    }
    if (flag == "--wait-stdin") {
      a.wait_stdin = true;
      continue;
    }
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string v = argv[++i];
    PortArgs& port = a.ports.back();
    if (flag == "--vdev" || flag == "--dev") {
      const std::string name = flag == "--vdev" ? v.substr(0, v.find(',')) : v;
      if (flag == "--vdev") a.eal.vdevs.push_back(v);
      if (flag == "--dev" && opened && from_vdev && port.dev == name) {
        from_vdev = false;  // `--vdev NAME,... --dev NAME`: that same port
        continue;
      }
      for (const PortArgs& p : a.ports) {
        if (p.dev == name) Usage(flag + ": port " + name + " is already interface " + std::to_string(&p - a.ports.data()));
      }
      if (opened) a.ports.emplace_back();
      a.ports.back().dev = name;
      if (flag == "--vdev") a.ports.back().kernel_iface = VdevArg(v, "iface");
      opened = true;
      from_vdev = flag == "--vdev";
      continue;
    }
    from_vdev = false;
    if (flag == "--ip") port.iface.ipv4 = ParseCidr(v, "--ip", true);
    else if (flag == "--ip6") port.iface.ipv6 = ParseCidr(v, "--ip6", false);
    else if (flag == "--gw") port.iface.ipv4_gateway = ParseIp(v, "--gw");
    else if (flag == "--gw6") port.iface.ipv6_gateway = ParseIp(v, "--gw6");
    else if (flag == "--pcap") port.pcap = v;
    else if (flag == "--eal-arg") a.eal.extra_args.push_back(v);
    else if (flag == "--mode") {
      const auto m = ParseAppMode(v);
      if (!m) Usage("--mode: one of ping, echo, sink, source, rr; got " + v);
      a.app.mode = *m;
    } else if (flag == "--port") a.app.port = static_cast<std::uint16_t>(ParseNumber(v, "--port", 65535));
    else if (flag == "--connect") a.app.connect = ParseHostPort(v);
    else if (flag == "--abort-after") a.app.abort_after = ParseNumber(v, "--abort-after", UINT64_MAX);
    else if (flag == "--bytes") a.app.bytes = ParseNumber(v, "--bytes", UINT64_MAX);
    else if (flag == "--count") a.app.count = ParseNumber(v, "--count", UINT32_MAX);
    else if (flag == "--size") a.app.size = ParseNumber(v, "--size", 1 << 20);
    else if (flag == "--scheduler") {
      a.scheduler = ParseScheduler(v);
      if (!a.scheduler) Usage("--scheduler: one of minrtt, roundrobin, redundant; got " + v);
    } else if (flag == "--backup-path" || flag == "--no-signal-path" || flag == "--no-subflow-path") {
      path_flags.emplace_back(flag, ParseNumber(v, flag.c_str(), 255));
    } else if (flag == "--link-poll-ms") a.link_poll_ms = static_cast<std::uint32_t>(ParseNumber(v, "--link-poll-ms", 60'000));
    else Usage("unknown option " + flag);
  }
  if (!opened) Usage("give a --vdev (or --dev for a PCI port with --eal-arg)");
  for (std::size_t i = 0; i < a.ports.size(); ++i) {
    const PortArgs& p = a.ports[i];
    if (!p.iface.ipv4 && !p.iface.ipv6) Usage("interface " + std::to_string(i) + " (" + p.dev + "): give --ip and/or --ip6");
  }
  a.backup.assign(a.ports.size(), false);
  a.signal.assign(a.ports.size(), true);
  a.subflow.assign(a.ports.size(), true);
  for (const auto& [flag, n] : path_flags) {
    if (!a.mptcp) Usage(flag + " needs --mptcp");
    if (n >= a.ports.size()) Usage(flag + " " + std::to_string(n) + ": there are " + std::to_string(a.ports.size()) + " interfaces");
    if (flag == "--backup-path") a.backup[n] = true;
    if (flag == "--no-signal-path") a.signal[n] = false;
    if (flag == "--no-subflow-path") a.subflow[n] = false;
  }
  if (a.scheduler && !a.mptcp) Usage("--scheduler needs --mptcp");
  if (a.mptcp_checksum && !a.mptcp) Usage("--mptcp-checksum needs --mptcp");
  a.stack.iface = a.ports.front().iface;
  const AppMode m = a.app.mode;
  if (m == AppMode::kRr && !a.app.connect) Usage("--mode rr needs --connect");
  if (m == AppMode::kEcho && a.app.connect) Usage("--mode echo is a server: give --port, not --connect");
  if (m != AppMode::kPing && !a.app.connect && a.app.port == 0) Usage("--mode needs --port N (server) or --connect HOST:PORT");
  // Echo and rr move small messages: Nagle would hold them behind the previous one's ACK.
  if (m == AppMode::kEcho || m == AppMode::kRr) a.stack.tcp.nodelay = true;
  return a;
}

}  // namespace braid::ustack::tools
