// The applications braid-ustack runs on a Stack for interop tests and benchmarks with unmodified
// Linux programs. DPDK-free (they see only the socket API, stack/socket_api.h), so they run over any
// Device, on plain TCP (Stack) or MPTCP (mptcp::MptcpStack).
//   echo   server: echoes every connection until the peer's FIN, then closes
//   sink   server or client (--connect): reads to end of stream; reports bytes and their SHA-256
//   source server or client: sends `bytes` bytes (a seeded pseudo-random stream), then FIN; reports
//          bytes and their SHA-256
//   rr     client: `count` request/response round trips of `size` bytes against an echo server;
//          reports the round-trip latencies
// Any mode with abort_after: the connection is aborted (RST) once it moved that many bytes.
// Results are single JSON lines handed to `report`: one per finished connection for servers
// ({"event":"connection",...}), one for a client ({"event":"result",...}).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ustack/stack/socket_api.h"

namespace braid::ustack::tools {

enum class AppMode : std::uint8_t { kPing, kEcho, kSink, kSource, kRr };
std::optional<AppMode> ParseAppMode(const std::string& s);
const char* AppModeName(AppMode m);

// One subflow of an MPTCP connection as its JSON line reports it (in "paths").
struct SubflowReport {
  std::uint32_t id = 0;
  Endpoint local;
  Endpoint remote;
  std::uint8_t local_id = 0;   // MPTCP address ids
  std::uint8_t remote_id = 0;
  bool backup = false;
  bool established = false;
  std::uint64_t bytes_sent = 0;      // payload bytes, retransmissions included
  std::uint64_t bytes_received = 0;
};

struct AppOptions {
  AppMode mode = AppMode::kPing;
  std::uint16_t port = 0;           // server modes: the port to listen on (all addresses)
  std::optional<Endpoint> connect;  // client modes: the server
  std::uint64_t bytes = 0;          // source: how much to send
  std::uint64_t count = 1000;       // rr: round trips
  std::size_t size = 64;            // rr: bytes per request (and response)
  bool hash = true;                 // sink/source: SHA-256 of the data (benchmarks turn it off)
  // source: when set, data goes out through zero-copy buffers this makes (filled with the given
  // bytes, at most buffer_room of them) and Stack::SendBuffer, instead of Stack::Send copying.
  std::function<TcpBufferPtr(std::span<const std::uint8_t>)> make_buffer;
  std::size_t buffer_room = 0;
  // MPTCP: the connection's subflows now (sampled while it runs: a subflow that is gone by the end
  // keeps its last figures); unset for plain TCP.
  std::function<std::vector<SubflowReport>(SocketId)> subflows;
  // When set: once a connection moved this many bytes (in + out) the application aborts it
  // (SocketApi::Abort: a RST; over MPTCP one carrying MP_FASTCLOSE). Its line says "aborted".
  std::uint64_t abort_after = 0;
};

class App {
 public:
  using Report = std::function<void(const std::string& json_line)>;
  App(SocketApi& stack, AppOptions options, Report report);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Listens or connects. Throws std::runtime_error naming the endpoint when that fails.
  void Start(Instant now);
  // Reacts to readiness: accepts, moves data, closes. True when it did anything.
  bool Step(Instant now);
  // A client finished (its connection closed, or failed): the process may exit.
  bool done() const { return done_; }
  // A client's outcome: false when its connection failed or its data was short.
  bool ok() const { return ok_; }
  // Servers: the closing summary line.
  std::string Summary() const;

  struct Session;

 private:
  bool StepSession(Instant now, Session& s);
  void SampleSubflows(Instant now, Session& s, bool force);
  void Finish(Instant now, Session& s, const char* error);

  SocketApi& stack_;
  AppOptions opt_;
  Report report_;
  SocketId listener_ = kNoSocket;
  std::map<SocketId, std::unique_ptr<Session>> sessions_;
  std::vector<std::uint8_t> pattern_;  // source data, cycled
  std::uint64_t connections_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool done_ = false;
  bool ok_ = true;
};

}  // namespace braid::ustack::tools
