// Deterministic simulation for tcp/ tests: two TcpTables joined by a simulated link that carries
// TcpRepr segments (payload copied into owned storage) with seeded loss, duplication, reordering,
// delay and rate, and a clock that jumps to the next deadline. No threads, no sockets, no real time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "ustack/tcp/tcp_table.h"

namespace braid::ustack {
// gtest prints states and errors by name.
inline void PrintTo(TcpState s, std::ostream* os) { *os << TcpStateName(s); }
inline void PrintTo(TcpError e, std::ostream* os) { *os << TcpErrorName(e); }
}  // namespace braid::ustack

namespace braid::ustack::sim {

// splitmix64: tiny, seeded, identical on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) / static_cast<double>(1ull << 53); }
  std::uint64_t Below(std::uint64_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  std::uint64_t state_;
};

inline std::vector<std::uint8_t> RandomBytes(std::uint64_t seed, std::size_t n) {
  Rng r(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(r.Next());
  return v;
}

struct LinkConfig {
  double loss = 0;       // probability a segment is dropped
  double duplicate = 0;  // probability a segment is delivered twice
  double reorder = 0;    // probability a segment gets extra delay (and so overtakes/is overtaken)
  Duration delay = Duration::Millis(5);          // one-way propagation delay
  Duration reorder_extra = Duration::Millis(6);  // up to this much extra for reordered segments
  std::uint64_t rate_bytes_per_sec = 0;          // serialization rate; 0 = infinite
  std::uint64_t seed = 1;
};

// One segment as it left a table (for assertions).
struct WireRecord {
  Instant at;
  int from = 0;
  FourTuple tuple;  // sender's view
  TcpRepr repr;     // payload and MPTCP spans cleared; see payload_len and mptcp
  std::size_t payload_len = 0;
  std::vector<std::vector<std::uint8_t>> mptcp;  // copies of the kind-30 option bodies
  bool lost = false;  // dropped by the link (randomly or by the drop hook)
};

inline IsnGenerator SecretFor(std::uint64_t seed) {
  std::array<std::uint8_t, IsnGenerator::kSecretSize> s{};
  Rng r(seed);
  for (auto& b : s) b = static_cast<std::uint8_t>(r.Next());
  return IsnGenerator(s);
}

class Net {
 public:
  static constexpr int kA = 0;
  static constexpr int kB = 1;

  Net(TcpConfig a, TcpConfig b, LinkConfig link = {})
      : link_(link), rng_(link.seed * 7919 + 17) {
    tables_[kA] = std::make_unique<TcpTable>(std::move(a), SecretFor(link.seed * 2 + 1));
    tables_[kB] = std::make_unique<TcpTable>(std::move(b), SecretFor(link.seed * 2 + 2));
    now_ = Instant::FromMillis(1000);
  }

  TcpTable& table(int side) { return *tables_[side]; }
  TcpTable& a() { return *tables_[kA]; }
  TcpTable& b() { return *tables_[kB]; }
  static IpAddress addr(int side) { return IpAddress::V4(198, 18, 0, static_cast<std::uint8_t>(side + 1)); }
  Instant now() const { return now_; }
  LinkConfig& link() { return link_; }

  // Deterministic drops on top of the random ones: return true to drop.
  std::function<bool(int from, const TcpRepr&)> drop;
  // Called once per step, before the tables dispatch: the applications.
  std::function<void()> app;
  // Every emitted segment (dropped ones included) when true.
  bool keep_log = false;
  std::vector<WireRecord> log;

  // Runs until `done` holds, or nothing is left to happen, or `limit` of simulated time passes.
  bool RunUntil(const std::function<bool()>& done, Duration limit = Duration::Millis(3'600'000)) {
    Instant deadline = now_ + limit;
    for (int iter = 0; iter < 10'000'000; ++iter) {
      Deliver();
      if (app) app();
      for (int side : {kA, kB}) {
        tables_[side]->Dispatch(now_, [&, side](const FourTuple& t, const TcpRepr& r) {
          Emit(side, t, r);
          return true;
        });
      }
      if (done()) return true;
      std::optional<Instant> next;
      for (int side : {kA, kB}) {
        auto t = tables_[side]->PollAt();
        if (t && (!next || *t < *next)) next = t;
      }
      if (!queue_.empty()) {
        Instant arrive{queue_.begin()->first.first};
        if (!next || arrive < *next) next = arrive;
      }
      if (!next) return done();
      if (*next > deadline) {
        now_ = std::max(now_, deadline);
        return done();
      }
      if (*next > now_) now_ = *next;
    }
    return false;
  }
  // Advances simulated time by `d`, running everything due on the way.
  void RunFor(Duration d) { RunUntil([] { return false; }, d); }

  // Hands a crafted segment straight to `to`'s table (tuple from the receiver's view) and returns
  // what that table emits right after.
  std::vector<WireRecord> Inject(int to, const FourTuple& tuple, const TcpRepr& repr) {
    tables_[to]->Process(now_, tuple, repr);
    std::vector<WireRecord> out;
    tables_[to]->Dispatch(now_, [&](const FourTuple& t, const TcpRepr& r) {
      WireRecord w{now_, to, t, r, r.payload.size()};
      w.repr.payload = {};
      for (std::size_t i = 0; i < r.mptcp_count; ++i) w.mptcp.emplace_back(r.mptcp[i].begin(), r.mptcp[i].end());
      w.repr.mptcp = {};
      w.repr.mptcp_count = 0;
      out.push_back(w);
      return true;
    });
    return out;
  }

  std::size_t in_flight() const { return queue_.size(); }

 private:
  struct Packet {
    int to = 0;
    FourTuple tuple;  // receiver's view
    TcpRepr repr;
    std::vector<std::uint8_t> payload;
    std::array<std::vector<std::uint8_t>, TcpRepr::kMaxMptcpOptions> mptcp;
  };

  void Emit(int from, const FourTuple& t, const TcpRepr& r) {
    if (keep_log) {
      WireRecord w{now_, from, t, r, r.payload.size()};
      w.repr.payload = {};
      for (std::size_t i = 0; i < r.mptcp_count; ++i) w.mptcp.emplace_back(r.mptcp[i].begin(), r.mptcp[i].end());
      w.repr.mptcp = {};
      w.repr.mptcp_count = 0;
      log.push_back(w);
    }
    if ((drop && drop(from, r)) || (link_.loss > 0 && rng_.Uniform() < link_.loss)) {
      if (keep_log) log.back().lost = true;
      return;
    }
    int copies = (link_.duplicate > 0 && rng_.Uniform() < link_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      Packet p;
      p.to = 1 - from;
      p.tuple = FourTuple{t.remote, t.local};
      p.repr = r;
      p.repr.payload = {};
      // The option bytes belong to the sender (an MPTCP hook's buffer): copied like the payload.
      for (std::size_t m = 0; m < r.mptcp_count; ++m) p.mptcp[m].assign(r.mptcp[m].begin(), r.mptcp[m].end());
      p.payload.assign(r.payload.begin(), r.payload.end());
      Instant depart = now_;
      if (link_.rate_bytes_per_sec > 0) {
        std::int64_t bytes = 40 + static_cast<std::int64_t>(r.payload.size());
        Instant start = std::max(busy_until_[from], now_);
        busy_until_[from] = start + Duration{bytes * 1'000'000 / static_cast<std::int64_t>(link_.rate_bytes_per_sec)};
        depart = busy_until_[from];
      }
      Instant arrive = depart + link_.delay;
      if (link_.reorder > 0 && rng_.Uniform() < link_.reorder) {
        arrive = arrive + Duration{static_cast<std::int64_t>(rng_.Uniform() * static_cast<double>(link_.reorder_extra.micros))};
      }
      queue_.emplace(std::make_pair(arrive.micros, order_++), std::move(p));
    }
  }

  void Deliver() {
    while (!queue_.empty() && queue_.begin()->first.first <= now_.micros) {
      auto node = queue_.extract(queue_.begin());
      Packet& p = node.mapped();
      p.repr.payload = p.payload;
      for (std::size_t m = 0; m < p.repr.mptcp_count; ++m) p.repr.mptcp[m] = p.mptcp[m];
      tables_[p.to]->Process(now_, p.tuple, p.repr);
    }
  }

  LinkConfig link_;
  Rng rng_;
  std::array<std::unique_ptr<TcpTable>, 2> tables_;
  Instant now_;
  std::array<Instant, 2> busy_until_{};
  std::map<std::pair<std::int64_t, std::uint64_t>, Packet> queue_;
  std::uint64_t order_ = 0;
};

// One application end of a connection: writes `to_send` (then shuts down if asked), reads
// everything into `received`.
struct Peer {
  SocketId id = kNoSocket;
  std::vector<std::uint8_t> to_send;
  std::size_t sent = 0;
  std::vector<std::uint8_t> received;
  bool shutdown_after_send = true;
  bool shut = false;
  bool reading = true;
  bool eof = false;
  TcpError error = TcpError::kOk;

  void Pump(TcpTable& t) {
    TcpConnection* c = t.Get(id);
    if (c == nullptr) return;
    while (sent < to_send.size()) {
      IoResult r = c->Send(std::span<const std::uint8_t>(to_send).subspan(sent));
      if (r.bytes == 0) {
        if (r.error != TcpError::kWouldBlock && r.error != TcpError::kNotConnected) error = r.error;
        break;
      }
      sent += r.bytes;
    }
    if (sent == to_send.size() && shutdown_after_send && !shut && c->state() != TcpState::kSynSent &&
        c->state() != TcpState::kSynReceived) {
      c->Shutdown();
      shut = true;
    }
    if (reading) {
      std::array<std::uint8_t, 16384> buf;
      for (;;) {
        IoResult r = c->Recv(buf);
        if (r.bytes > 0) {
          received.insert(received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
          continue;
        }
        if (r.error == TcpError::kOk) eof = true;
        else if (r.error != TcpError::kWouldBlock) error = r.error;
        break;
      }
    }
  }
  bool done() const { return sent == to_send.size() && eof; }
};

// A config that keeps simulations short: small buffers, short MSL.
inline TcpConfig SimConfig() {
  TcpConfig c;
  c.rx_buffer = 64 * 1024;
  c.tx_buffer = 64 * 1024;
  c.msl = Duration::Millis(1000);
  return c;
}

}  // namespace braid::ustack::sim
