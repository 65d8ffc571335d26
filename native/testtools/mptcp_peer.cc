// mptcp-peer: a Linux kernel MPTCP endpoint for interop tests, which reports what the kernel itself
// says about the connection (MPTCP_FULL_INFO), not only what arrived.
//
//   mptcp-peer (--connect HOST:PORT [--bind ADDR] | --listen PORT [--bind ADDR])
//              [--send BYTES] [--echo] [--tcp] [--sample-ms N]
//
// One connection (a server keeps listening meanwhile, for the peer's MP_JOINs): sends BYTES of a fixed pseudo-random stream then shuts down its side (--send),
// or sends back what it reads (--echo), and reads to end of stream (a peer sending nothing shuts
// down its side only then). While the connection is open it
// samples TCP_IS_MPTCP and MPTCP_FULL_INFO every N ms (default 50) and remembers every subflow it
// saw (by subflow id, with its addresses and the largest byte counts). At the end it prints one JSON
// line: {"mptcp":..,"bytes_in":..,"sha256_in":..,"bytes_out":..,"sha256_out":..,"max_subflows":..,
// "subflows":[{"id","local","remote","bytes_sent","bytes_received"}]}; exit status 1 on any error.
// --tcp opens a plain TCP socket instead (fallback baselines).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel/mptcp_sockopt.h"

namespace {

using braid::kernel::SubflowSample;

struct Args {
  std::string connect_host;
  std::string connect_port;
  std::string listen_port;
  std::string bind_addr;
  std::uint64_t send_bytes = 0;
  bool echo = false;
  bool tcp = false;
  int sample_ms = 50;
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "mptcp-peer: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void FailErrno(const std::string& what) { Fail(what + ": " + std::strerror(errno)); }

std::uint64_t ParseCount(const char* flag, const char* value) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0') Fail(std::string(flag) + ": not a number: " + value);
  return v;
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Fail(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--connect") {
      const std::string hp = value();
      const auto colon = hp.rfind(':');
      if (colon == std::string::npos) Fail("--connect wants HOST:PORT, got " + hp);
      a.connect_host = hp.substr(0, colon);
      if (a.connect_host.size() > 1 && a.connect_host.front() == '[') a.connect_host = a.connect_host.substr(1, a.connect_host.size() - 2);
      a.connect_port = hp.substr(colon + 1);
    } else if (flag == "--listen") {
      a.listen_port = value();
    } else if (flag == "--bind") {
      a.bind_addr = value();
    } else if (flag == "--send") {
      a.send_bytes = ParseCount("--send", value());
    } else if (flag == "--echo") {
      a.echo = true;
    } else if (flag == "--tcp") {
      a.tcp = true;
    } else if (flag == "--sample-ms") {
      a.sample_ms = static_cast<int>(ParseCount("--sample-ms", value()));
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (a.connect_host.empty() == a.listen_port.empty()) Fail("give exactly one of --connect HOST:PORT and --listen PORT");
  if (a.echo && a.send_bytes != 0) Fail("--echo and --send exclude each other");
  if (a.sample_ms <= 0) Fail("--sample-ms must be positive");
  return a;
}

addrinfo* Resolve(const std::string& host, const std::string& port, bool passive) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) Fail("address " + host + " port " + port + ": " + gai_strerror(rc));
  return res;
}

int OpenSocket(int family, bool tcp) {
  const int fd = socket(family, SOCK_STREAM, tcp ? IPPROTO_TCP : braid::kernel::kIpprotoMptcp);
  if (fd < 0) FailErrno(tcp ? "socket(IPPROTO_TCP)" : "socket(IPPROTO_MPTCP)");
  return fd;
}

void BindTo(int fd, const std::string& addr, const std::string& port) {
  addrinfo* ai = Resolve(addr, port, true);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) FailErrno("bind " + addr + " port " + port);
  freeaddrinfo(ai);
}

int Establish(const Args& a) {
  if (!a.connect_host.empty()) {
    addrinfo* ai = Resolve(a.connect_host, a.connect_port, false);
    const int fd = OpenSocket(ai->ai_family, a.tcp);
    if (!a.bind_addr.empty()) BindTo(fd, a.bind_addr, "0");
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) FailErrno("connect " + a.connect_host + ":" + a.connect_port);
    freeaddrinfo(ai);
    return fd;
  }
  const std::string bind_addr = a.bind_addr.empty() ? "::" : a.bind_addr;
  addrinfo* ai = Resolve(bind_addr, a.listen_port, true);
  const int lfd = OpenSocket(ai->ai_family, a.tcp);
  freeaddrinfo(ai);
  BindTo(lfd, bind_addr, a.listen_port);
  if (listen(lfd, 1) != 0) FailErrno("listen");
  std::printf("{\"event\":\"listening\",\"port\":%s}\n", a.listen_port.c_str());
  std::fflush(stdout);
  const int fd = accept(lfd, nullptr, nullptr);
  if (fd < 0) FailErrno("accept");
  // The listener stays open until exit: Linux answers MP_JOINs to a port nobody listens on any more
  // with a RST, so closing it would refuse the peer's further subflows.
  return fd;
}

// The same stream for every run: an xorshift generator seeded with a constant.
class Stream {
 public:
  void Fill(std::uint8_t* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      out[i] = static_cast<std::uint8_t>(state_ >> 24);
    }
  }

 private:
  std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) Fail("sha256 init");
  }
  void Update(const std::uint8_t* p, std::size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  std::string Hex() {
    unsigned char md[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string s;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(b, sizeof(b), "%02x", md[i]);
      s += b;
    }
    return s;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

struct Observed {
  bool mptcp = false;
  std::size_t max_subflows = 0;
  std::map<std::uint32_t, SubflowSample> subflows;
};

void Sample(int fd, bool tcp, Observed& o) {
  if (tcp) return;
  if (braid::kernel::IsMptcp(fd) == 1) o.mptcp = true;
  std::vector<SubflowSample> now;
  if (!braid::kernel::ReadSubflows(fd, now)) return;  // fallback: EOPNOTSUPP
  if (now.size() > o.max_subflows) o.max_subflows = now.size();
  for (auto& s : now) {
    auto& seen = o.subflows[s.id];
    const std::uint64_t sent = std::max(seen.bytes_sent, s.bytes_sent);
    const std::uint64_t received = std::max(seen.bytes_received, s.bytes_received);
    seen = std::move(s);
    seen.bytes_sent = sent;
    seen.bytes_received = received;
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const Args a = ParseArgs(argc, argv);
  const int fd = Establish(a);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) FailErrno("O_NONBLOCK");

  Observed seen;
  Sample(fd, a.tcp, seen);
  Stream stream;
  Sha256 hash_in;
  Sha256 hash_out;
  std::vector<std::uint8_t> out_buf;      // bytes made or echoed, not yet written
  std::size_t out_off = 0;
  std::vector<std::uint8_t> in_buf(256 * 1024);
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t made = 0;
  bool eof = false;
  bool shut = false;
  std::int64_t next_sample = NowMs() + a.sample_ms;

  while (!(eof && shut)) {
    // Refill: the stream (--send) or nothing (echo refills from what it reads).
    if (out_off == out_buf.size() && !a.echo && made < a.send_bytes) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(256 * 1024, a.send_bytes - made));
      out_buf.resize(n);
      stream.Fill(out_buf.data(), n);
      hash_out.Update(out_buf.data(), n);
      made += n;
      out_off = 0;
    }
    const bool pending = out_off < out_buf.size();
    // A peer that only receives half-closes after the end of stream, not at once: Linux refuses
    // MP_JOINs (MPJoinRejected) to a connection that has left ESTABLISHED.
    const bool writing_done = a.echo || a.send_bytes == 0 ? eof : made == a.send_bytes;
    if (!pending && !shut && writing_done) {
      if (shutdown(fd, SHUT_WR) != 0) FailErrno("shutdown");
      shut = true;
      continue;
    }
    pollfd p{fd, static_cast<short>((eof || (a.echo && pending) ? 0 : POLLIN) | (pending ? POLLOUT : 0)), 0};
    const int wait = static_cast<int>(std::max<std::int64_t>(0, next_sample - NowMs()));
    if (poll(&p, 1, wait) < 0 && errno != EINTR) FailErrno("poll");
    if (NowMs() >= next_sample) {
      Sample(fd, a.tcp, seen);
      next_sample = NowMs() + a.sample_ms;
    }
    if (p.revents & (POLLERR | POLLNVAL)) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      FailErrno("connection");
    }
    if (pending && (p.revents & POLLOUT)) {
      const ssize_t n = send(fd, out_buf.data() + out_off, out_buf.size() - out_off, 0);
      if (n < 0 && errno != EAGAIN) FailErrno("send");
      if (n > 0) {
        out_off += static_cast<std::size_t>(n);
        bytes_out += static_cast<std::uint64_t>(n);
      }
    }
    if (!eof && (p.revents & (POLLIN | POLLHUP)) && !(a.echo && out_off < out_buf.size())) {
      const ssize_t n = recv(fd, in_buf.data(), in_buf.size(), 0);
      if (n < 0 && errno != EAGAIN) FailErrno("recv");
      if (n == 0) eof = true;
      if (n > 0) {
        hash_in.Update(in_buf.data(), static_cast<std::size_t>(n));
        bytes_in += static_cast<std::uint64_t>(n);
        if (a.echo) {
          out_buf.assign(in_buf.begin(), in_buf.begin() + n);
          hash_out.Update(out_buf.data(), out_buf.size());
          out_off = 0;
        }
      }
    }
  }
  Sample(fd, a.tcp, seen);
  close(fd);

  std::printf("{\"event\":\"result\",\"mptcp\":%s,\"bytes_in\":%llu,\"sha256_in\":\"%s\",\"bytes_out\":%llu,"
              "\"sha256_out\":\"%s\",\"max_subflows\":%zu,\"subflows\":[",
              seen.mptcp ? "true" : "false", static_cast<unsigned long long>(bytes_in), hash_in.Hex().c_str(),
              static_cast<unsigned long long>(bytes_out), hash_out.Hex().c_str(), seen.max_subflows);
  bool first = true;
  for (const auto& [id, s] : seen.subflows) {
    std::printf("%s{\"id\":%u,\"local\":\"%s\",\"remote\":\"%s\",\"bytes_sent\":%llu,\"bytes_received\":%llu}",
                first ? "" : ",", id, s.local.c_str(), s.remote.c_str(), static_cast<unsigned long long>(s.bytes_sent),
                static_cast<unsigned long long>(s.bytes_received));
    first = false;
  }
  std::printf("]}\n");
  return 0;
}
