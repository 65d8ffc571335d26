#pragma once
// A whole Dataplane on loopback for tests: a target server the test owns, one listener relaying
// to it, clients that connect through braid, and the events the workers emitted. Plus checked
// byte streams: every byte is a function of its offset, so a lost, repeated or reordered chunk
// shows as a mismatch at a known offset.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "relay/dataplane.h"

namespace braid::test {

using namespace std::chrono_literals;

inline uint8_t PatternByte(uint64_t offset, uint64_t seed) {
  uint64_t z = (offset >> 3) + seed * 0x9e3779b97f4a7c15ull;  // splitmix64 of the 8-byte word index
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<uint8_t>(z >> ((offset & 7) * 8));
}

// Polls `done` until it holds or `limit` passes; a deadline, not a timing assertion.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

inline std::string LocalOf(int fd) {
  relay::SocketAddress a;
  a.length = sizeof(a.storage);
  getsockname(fd, a.get(), &a.length);
  return relay::FormatSocketAddress(a);
}

inline std::string PeerOf(int fd) {
  relay::SocketAddress a;
  a.length = sizeof(a.storage);
  getpeername(fd, a.get(), &a.length);
  return relay::FormatSocketAddress(a);
}

// Blocking I/O on the test's ends gives up after this long, so a stalled relay fails the test
// instead of hanging it.
inline void SetIoTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd = o.fd;
    o.fd = -1;
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  operator int() const { return fd; }
};

struct HarnessOptions {
  unsigned workers = 2;
  relay::ListenerMode mode = relay::ListenerMode::kForward;
  relay::Protocol target_protocol = relay::Protocol::kTcp;
  int server_protocol = IPPROTO_TCP;  // the test's target server
  int server_backlog = 128;
  uint32_t connect_timeout_ms = 30000;
  std::vector<std::vector<int>> worker_cpus;
};

class RelayHarness {
 public:
  explicit RelayHarness(const HarnessOptions& o = {}) : events_([] {}) {
    server_ = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, o.server_protocol));
    if (server_ < 0) throw std::runtime_error("server socket: " + std::to_string(errno));
    sockaddr_in a = Loopback(0);
    socklen_t len = sizeof(a);
    if (bind(server_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(server_, o.server_backlog) != 0 ||
        getsockname(server_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("server listen");
    server_port_ = ntohs(a.sin_port);

    relay::DataplaneSpec spec;
    spec.workers = o.workers;
    spec.connect_timeout_ms = o.connect_timeout_ms;
    spec.worker_cpus = o.worker_cpus;
    relay::ListenerSpec l;
    l.id = 7;
    l.name = "test";
    l.mode = o.mode;
    relay::ParseSocketAddress("127.0.0.1", 0, l.listen);
    l.listen_protocol = relay::Protocol::kTcp;
    relay::ParseSocketAddress("127.0.0.1", server_port_, l.target);
    l.target_protocol = o.target_protocol;
    spec.listeners.push_back(l);
    dataplane_ = std::make_unique<relay::Dataplane>(std::move(spec), events_);
    listen_port_ = dataplane_->listeners().at(0).port;
    dataplane_->Start();
  }
  ~RelayHarness() { dataplane_->Close(); }

  relay::Dataplane& dp() { return *dataplane_; }
  int server() const { return server_; }
  uint16_t server_port() const { return server_port_; }
  uint16_t listen_port() const { return listen_port_; }
  uint32_t listener_id() const { return 7; }

  // A client connected to braid's listener (blocking, with I/O timeouts).
  Fd Dial() {
    Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = Loopback(listen_port_);
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) throw std::runtime_error("dial");
    SetIoTimeout(c, 10);
    return c;
  }
  // The next connection braid made to the target server; invalid after `limit`.
  Fd AcceptUpstream(int limit_ms = 10000) {
    pollfd p{server_, POLLIN, 0};
    if (poll(&p, 1, limit_ms) != 1) return Fd();
    Fd s(accept4(server_, nullptr, nullptr, SOCK_CLOEXEC));
    SetIoTimeout(s, 10);
    return s;
  }

  // Snapshot entry of one connection, if open.
  bool Find(uint64_t id, relay::ConnectionStat& out) {
    for (auto& c : dataplane_->Snapshot().connections) {
      if (c.id == id) {
        out = c;
        return true;
      }
    }
    return false;
  }
  // The id of the only open connection (the tests open one at a time); 0 if none yet.
  uint64_t OnlyConnection() {
    auto snap = dataplane_->Snapshot();
    return snap.connections.size() == 1 ? snap.connections[0].id : 0;
  }
  // The oldest open connection newer than any this returned before; 0 if none yet.
  uint64_t NextConnection() {
    uint64_t best = 0;
    for (auto& c : dataplane_->Snapshot().connections)
      if (c.id > last_id_ && (best == 0 || c.id < best)) best = c.id;
    if (best != 0) last_id_ = best;
    return best;
  }
  // Asks for a move and waits until the snapshot shows it done.
  bool MoveAndWait(uint64_t id, uint32_t worker) {
    if (!dataplane_->MoveConnection(id, worker)) {
      ADD_FAILURE() << "MoveConnection(" << id << ", " << worker << ") refused";
      return false;
    }
    relay::ConnectionStat s;
    bool found = false;
    if (WaitFor([&] { return (found = Find(id, s)) && s.worker == worker; })) return true;
    ADD_FAILURE() << "connection " << id << (found ? " stays on worker " + std::to_string(s.worker) : " is gone")
                  << " after a move to worker " << worker;
    return false;
  }

  std::vector<relay::Event> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& e : events_.TakeAll()) seen_.push_back(std::move(e));
    return seen_;
  }
  std::vector<relay::Event> Closes(uint64_t id) {
    std::vector<relay::Event> out;
    for (auto& e : Events())
      if (e.type == relay::Event::Type::kClose && e.conn_id == id) out.push_back(e);
    return out;
  }

 private:
  relay::EventQueue events_;
  std::mutex mu_;
  std::vector<relay::Event> seen_;
  Fd server_;
  uint16_t server_port_ = 0;
  uint16_t listen_port_ = 0;
  uint64_t last_id_ = 0;
  std::unique_ptr<relay::Dataplane> dataplane_;
};

// Sets `flag` when leaving scope, so a failed assertion still stops the writer threads.
struct RaiseOnExit {
  std::atomic<bool>& flag;
  ~RaiseOnExit() { flag = true; }
};

// Writes the pattern for `seed` until `stop` (then shuts down writing), or `limit` bytes.
struct PatternWriter {
  std::atomic<uint64_t> written{0};
  std::atomic<bool> failed{false};
  std::thread thread;

  void Start(int fd, uint64_t seed, const std::atomic<bool>& stop, uint64_t limit = UINT64_MAX) {
    thread = std::thread([this, fd, seed, &stop, limit] {
      std::vector<uint8_t> buf(96 * 1024 + 13);  // odd size: chunk edges wander through the stream
      uint64_t off = 0;
      while (!stop.load() && off < limit) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - off));
        for (size_t i = 0; i < n; i++) buf[i] = PatternByte(off + i, seed);
        size_t sent = 0;
        while (sent < n) {
          ssize_t k = send(fd, buf.data() + sent, n - sent, MSG_NOSIGNAL);
          if (k <= 0) {
            failed = true;
            return;
          }
          sent += static_cast<size_t>(k);
          written += static_cast<uint64_t>(k);
        }
        off += n;
      }
      shutdown(fd, SHUT_WR);
    });
  }
  void Join() {
    if (thread.joinable()) thread.join();
  }
  ~PatternWriter() { Join(); }
};

// Reads until EOF, checking every byte against the pattern for `seed`.
struct PatternReader {
  std::atomic<uint64_t> read{0};
  std::atomic<bool> eof{false};
  std::atomic<bool> failed{false};
  std::atomic<int64_t> first_mismatch{-1};
  std::thread thread;

  void Start(int fd, uint64_t seed) {
    thread = std::thread([this, fd, seed] {
      std::vector<uint8_t> buf(128 * 1024);
      uint64_t off = 0;
      for (;;) {
        ssize_t k = recv(fd, buf.data(), buf.size(), 0);
        if (k == 0) {
          eof = true;
          return;
        }
        if (k < 0) {
          failed = true;
          return;
        }
        for (ssize_t i = 0; i < k; i++) {
          if (buf[i] != PatternByte(off + i, seed) && first_mismatch.load() < 0) first_mismatch = off + i;
        }
        off += static_cast<uint64_t>(k);
        read = off;
      }
    });
  }
  void Join() {
    if (thread.joinable()) thread.join();
  }
  ~PatternReader() { Join(); }
};

}  // namespace braid::test
