#include "ustack/tools/ustack_app.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <stdexcept>

namespace braid::ustack::tools {

namespace {

constexpr std::size_t kPatternSize = 1 << 20;  // source data: 1 MiB of seeded pseudo-random bytes, cycled

std::string FormatEndpoint(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.addr.is_v4()) {
    inet_ntop(AF_INET, e.addr.bytes.data() + 12, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(e.port);
  }
  inet_ntop(AF_INET6, e.addr.bytes.data(), buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(e.port);
}

double Seconds(Instant from, Instant to) { return static_cast<double>((to - from).micros) / 1e6; }

struct EvpFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

std::optional<AppMode> ParseAppMode(const std::string& s) {
  if (s == "ping") return AppMode::kPing;
  if (s == "echo") return AppMode::kEcho;
  if (s == "sink") return AppMode::kSink;
  if (s == "source") return AppMode::kSource;
  if (s == "rr") return AppMode::kRr;
  return std::nullopt;
}

const char* AppModeName(AppMode m) {
  switch (m) {
    case AppMode::kPing: return "ping";
    case AppMode::kEcho: return "echo";
    case AppMode::kSink: return "sink";
    case AppMode::kSource: return "source";
    case AppMode::kRr: return "rr";
  }
  return "?";
}

struct App::Session {
  SocketId id = kNoSocket;
  Endpoint remote;
  Instant start{};
  std::unique_ptr<EVP_MD_CTX, EvpFree> sha{EVP_MD_CTX_new()};
  std::uint64_t in = 0;   // bytes received
  std::uint64_t out = 0;  // bytes sent
  bool connected = false;
  bool mptcp = false;     // the connection runs over MPTCP (reported in its line)
  std::uint32_t subflows = 0;  // MPTCP: the most subflows it had at once
  bool dss_checksums = false;
  bool shut = false;      // our FIN is queued
  bool eof = false;       // the peer's FIN was read
  bool closing = false;   // Close() called; waiting for the close handshake (clients)
  bool aborted = false;   // abort_after reached: Abort() called
  // rr
  std::uint64_t rounds = 0;
  std::size_t round_sent = 0;
  std::size_t round_recv = 0;
  Instant round_start{};
  std::vector<std::int64_t> latencies;
  TcpBufferPtr pending;  // source, zero-copy: a filled buffer the send queue had no room for yet
  std::map<std::uint32_t, SubflowReport> paths;  // MPTCP: last sample per subflow id
  Instant next_sample{};

  Session() { EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr); }
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha.get(), md, &n);
    std::string hex;
    char b[3];
    for (unsigned i = 0; i < n; ++i) {
      std::snprintf(b, sizeof b, "%02x", md[i]);
      hex += b;
    }
    return hex;
  }
};

App::App(SocketApi& stack, AppOptions options, Report report)
    : stack_(stack), opt_(std::move(options)), report_(std::move(report)) {
  if (opt_.mode == AppMode::kSource || opt_.mode == AppMode::kRr) {
    // splitmix64 from a fixed seed: the same stream on every run, so tests can precompute hashes.
    pattern_.resize(kPatternSize);
    std::uint64_t state = 0x627261696475ull;
    for (std::size_t i = 0; i < pattern_.size(); i += 8) {
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      for (int k = 0; k < 8; ++k) pattern_[i + k] = static_cast<std::uint8_t>(z >> (8 * k));
    }
  }
}

App::~App() = default;

void App::Start(Instant now) {
  if (opt_.mode == AppMode::kPing) return;
  if (opt_.connect) {
    const OpenResult r = stack_.Connect(now, *opt_.connect);
    if (!r.ok()) {
      throw std::runtime_error("connect to " + FormatEndpoint(*opt_.connect) + ": " + TcpErrorName(r.error));
    }
    auto s = std::make_unique<Session>();
    s->id = r.id;
    s->remote = *opt_.connect;
    s->start = now;
    sessions_.emplace(r.id, std::move(s));
    return;
  }
  const OpenResult r = stack_.Listen(Endpoint{{}, opt_.port});
  if (!r.ok()) throw std::runtime_error("listen on port " + std::to_string(opt_.port) + ": " + TcpErrorName(r.error));
  listener_ = r.id;
}

bool App::Step(Instant now) {
  bool any = false;
  stack_.DrainEvents([](SocketId, std::uint32_t) {});  // readiness is read level-wise below
  if (listener_ != kNoSocket) {
    for (SocketId id; (id = stack_.Accept(listener_)) != kNoSocket;) {
      auto s = std::make_unique<Session>();
      s->id = id;
      s->remote = stack_.Status(id).remote;
      s->start = now;
      sessions_.emplace(id, std::move(s));
      any = true;
    }
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    Session& s = *it->second;
    any |= StepSession(now, s);
    if (s.id == kNoSocket) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return any;
}

bool App::StepSession(Instant now, Session& s) {
  SocketStatus st = stack_.Status(s.id);
  if (s.closing) {
    // Clients linger until the close handshake is done, so the last bytes and FIN are delivered.
    if (!st.exists || st.closed) {
      Finish(now, s, nullptr);
      return true;
    }
    SampleSubflows(now, s, false);
    return false;
  }
  if (!st.exists) {
    Finish(now, s, "connection gone");
    return true;
  }
  if (st.error != TcpError::kOk) {
    Finish(now, s, TcpErrorName(st.error));
    return true;
  }
  if (!s.connected) {
    if (!st.connected) return false;
    s.connected = true;
    s.start = now;
    s.round_start = now;
  }
  s.mptcp = st.mptcp;
  s.subflows = std::max(s.subflows, st.subflows);
  s.dss_checksums = st.dss_checksums;
  SampleSubflows(now, s, false);
  bool any = false;
  const std::uint64_t in_before = s.in;
  const std::uint64_t out_before = s.out;

  switch (opt_.mode) {
    case AppMode::kEcho:
      for (;;) {
        const auto view = stack_.RecvPeek(s.id);
        if (view.empty()) break;
        const IoResult r = stack_.Send(s.id, view);
        if (r.bytes == 0) break;
        stack_.RecvConsume(s.id, r.bytes);
        s.in += r.bytes;
        s.out += r.bytes;
      }
      break;
    case AppMode::kSink:
    case AppMode::kSource:
      for (;;) {  // both read: a source drains (and hashes nothing of) what the peer sends
        const auto view = stack_.RecvPeek(s.id);
        if (view.empty()) break;
        if (opt_.mode == AppMode::kSink && opt_.hash) EVP_DigestUpdate(s.sha.get(), view.data(), view.size());
        s.in += view.size();
        stack_.RecvConsume(s.id, view.size());
      }
      if (opt_.mode == AppMode::kSource) {
        while (s.out < opt_.bytes) {
          const std::size_t off = static_cast<std::size_t>(s.out % pattern_.size());
          std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pattern_.size() - off, opt_.bytes - s.out));
          std::size_t sent = 0;
          if (opt_.make_buffer) {
            n = std::min(n, opt_.buffer_room);
            if (!s.pending) s.pending = opt_.make_buffer(std::span(pattern_).subspan(off, n));
            if (!s.pending) break;  // the pool is empty until the stack frees acknowledged buffers
            n = s.pending->bytes().size();
            if (stack_.SendBuffer(s.id, s.pending) != TcpError::kOk) break;  // kept for the next try
            sent = n;
          } else {
            sent = stack_.Send(s.id, std::span(pattern_).subspan(off, n)).bytes;
          }
          if (sent == 0) break;
          if (opt_.hash) EVP_DigestUpdate(s.sha.get(), pattern_.data() + off, sent);
          s.out += sent;
        }
        if (s.out == opt_.bytes && !s.shut) {
          stack_.Shutdown(s.id);
          s.shut = true;
          any = true;
        }
      }
      break;
    case AppMode::kRr:
      for (;;) {
        if (s.rounds == opt_.count) break;
        if (s.round_sent < opt_.size) {
          const IoResult r = stack_.Send(s.id, std::span(pattern_).subspan(s.round_sent, opt_.size - s.round_sent));
          s.round_sent += r.bytes;
          s.out += r.bytes;
          if (s.round_sent < opt_.size) break;
        }
        const auto view = stack_.RecvPeek(s.id);
        const std::size_t n = std::min(view.size(), opt_.size - s.round_recv);
        if (n == 0) break;
        stack_.RecvConsume(s.id, n);
        s.round_recv += n;
        s.in += n;
        if (s.round_recv < opt_.size) break;
        s.latencies.push_back((now - s.round_start).micros);
        ++s.rounds;
        s.round_sent = 0;
        s.round_recv = 0;
        s.round_start = now;
      }
      if (s.rounds == opt_.count && !s.shut) {
        stack_.Shutdown(s.id);
        s.shut = true;
        any = true;
      }
      break;
    case AppMode::kPing:
      break;
  }
  any |= s.in != in_before || s.out != out_before;

  if (opt_.abort_after != 0 && s.in + s.out >= opt_.abort_after) {
    stack_.Abort(s.id);
    s.aborted = true;
    Finish(now, s, "aborted");
    return true;
  }

  if (!s.eof && stack_.Status(s.id).eof) {
    s.eof = true;
    any = true;
  }
  // Echo and sink end when the peer has; a source or rr client when it has sent all and the peer
  // has finished too (Linux sinks close after reading to end of stream).
  const bool echo_done = opt_.mode == AppMode::kEcho && s.eof;
  const bool sink_done = opt_.mode == AppMode::kSink && s.eof;
  const bool sender_done = (opt_.mode == AppMode::kSource || opt_.mode == AppMode::kRr) && s.shut && s.eof;
  if (echo_done || sink_done || sender_done) {
    stack_.Close(s.id);
    any = true;
    if (opt_.connect) {
      s.closing = true;
    } else {
      Finish(now, s, nullptr);
    }
  }
  return any;
}

void App::SampleSubflows(Instant now, Session& s, bool force) {
  constexpr std::int64_t kSampleEveryUs = 20'000;  // cheap enough while busy-polling, fresh enough to report
  if (!opt_.subflows || !s.mptcp || (!force && now < s.next_sample)) return;
  s.next_sample = Instant{now.micros + kSampleEveryUs};
  for (SubflowReport r : opt_.subflows(s.id)) {
    // "established" means it got there at some point: by the last sample a subflow may be closing.
    if (auto it = s.paths.find(r.id); it != s.paths.end()) r.established = r.established || it->second.established;
    s.paths[r.id] = r;
  }
}

void App::Finish(Instant now, Session& s, const char* error) {
  if (stack_.Status(s.id).exists) SampleSubflows(now, s, true);
  if (error != nullptr && !s.aborted && stack_.Status(s.id).exists) stack_.Close(s.id);
  const bool client = opt_.connect.has_value();
  std::string line = std::string("{\"event\":\"") + (client ? "result" : "connection") + "\",\"mode\":\"" +
                     AppModeName(opt_.mode) + "\",\"remote\":\"" + FormatEndpoint(s.remote) + "\"";
  char buf[256];
  std::snprintf(buf, sizeof buf, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"seconds\":%.6f", s.in, s.out,
                Seconds(s.start, now));
  line += buf;
  if (s.mptcp) line += ",\"mptcp\":true,\"subflows\":" + std::to_string(s.subflows);
  if (s.dss_checksums) line += ",\"dss_checksums\":true";
  if (!s.paths.empty()) {
    line += ",\"paths\":[";
    for (const auto& [id, p] : s.paths) {
      std::snprintf(buf, sizeof buf,
                    "{\"id\":%u,\"local_id\":%u,\"remote_id\":%u,\"backup\":%s,\"established\":%s,"
                    "\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64,
                    p.id, p.local_id, p.remote_id, p.backup ? "true" : "false", p.established ? "true" : "false",
                    p.bytes_sent, p.bytes_received);
      line += std::string(line.back() == '[' ? "" : ",") + buf + ",\"local\":\"" + FormatEndpoint(p.local) +
              "\",\"remote\":\"" + FormatEndpoint(p.remote) + "\"}";
    }
    line += "]";
  }
  if (opt_.mode == AppMode::kSink || opt_.mode == AppMode::kSource) {
    line += std::string(",\"bytes\":") + std::to_string(opt_.mode == AppMode::kSink ? s.in : s.out);
    if (opt_.hash) line += ",\"sha256\":\"" + s.Digest() + "\"";
  }
  if (opt_.mode == AppMode::kRr && !s.latencies.empty()) {
    std::vector<std::int64_t> l = s.latencies;
    std::sort(l.begin(), l.end());
    double sum = 0;
    for (auto v : l) sum += static_cast<double>(v);
    std::snprintf(buf, sizeof buf, ",\"count\":%zu,\"size\":%zu,\"mean_us\":%.1f,\"p50_us\":%" PRId64 ",\"p99_us\":%" PRId64,
                  l.size(), opt_.size, sum / static_cast<double>(l.size()), l[l.size() / 2], l[l.size() * 99 / 100]);
    line += buf;
  }
  if (error != nullptr) line += std::string(",\"error\":\"") + error + "\"";
  line += "}";
  report_(line);
  ++connections_;
  total_bytes_ += s.in + s.out;
  s.id = kNoSocket;
  if (client) {
    done_ = true;
    const bool short_data = opt_.mode == AppMode::kSource ? s.out != opt_.bytes
                            : opt_.mode == AppMode::kRr   ? s.rounds != opt_.count
                                                          : false;
    ok_ = s.aborted || (error == nullptr && !short_data);  // an abort asked for is a success
  }
}

std::string App::Summary() const {
  return std::string("{\"event\":\"summary\",\"mode\":\"") + AppModeName(opt_.mode) +
         "\",\"connections\":" + std::to_string(connections_) + ",\"bytes\":" + std::to_string(total_bytes_) + "}";
}

}  // namespace braid::ustack::tools
