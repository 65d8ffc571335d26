// One lcore's TCP: listeners by local endpoint, connections by four-tuple, accept queues, the timer
// wheel that drives every connection's timers, and RSTs for segments that match nothing
// (RFC 9293 3.10.7.1). Single-threaded by design: each lcore owns one table, so no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ustack/tcp/tcp_connection.h"
#include "ustack/tcp/tcp_context.h"
#include "ustack/tcp/timer_wheel.h"

namespace braid::ustack {

struct FourTupleHash {
  std::size_t operator()(const FourTuple& t) const;
};

struct OpenResult {
  SocketId id = kNoSocket;
  TcpError error = TcpError::kOk;
  bool ok() const { return error == TcpError::kOk; }
};

class TcpTable {
 public:
  TcpTable(TcpConfig config, IsnGenerator isn);
  TcpTable(const TcpTable&) = delete;
  TcpTable& operator=(const TcpTable&) = delete;

  // ---- IP-layer side ----
  // One received segment; `tuple` is seen from this stack (local = the packet's destination).
  void Process(Instant now, const FourTuple& tuple, const TcpRepr& seg);
  // Fires due timers and emits every segment that may go now. False when `emit` refused one (the
  // rest waits for the next call).
  bool Dispatch(Instant now, const TcpEmit& emit);
  // When Dispatch next has work: nullopt for never, a time not after `now` for right away.
  std::optional<Instant> PollAt() const;

  // ---- application side ----
  // Listens on `local`; an all-zero address listens on every address. backlog 0 = config default.
  OpenResult Listen(const Endpoint& local, int backlog = 0);
  // Every connection `listener` accepts from now on gets the hook `factory` makes from its SYN
  // (MPTCP). False when `listener` is not a listener. Active opens attach theirs with
  // Get(id)->set_option_hook() right after Connect.
  bool SetOptionHookFactory(SocketId listener, TcpOptionHookFactory factory);
  // Stops listening; connections not yet accepted are reset.
  void CloseListener(SocketId listener);
  // Active open from `local_addr` (chosen by the IP layer's routing) to `remote`. Port 0 picks an
  // ephemeral port (RFC 6056 algorithm 3).
  OpenResult Connect(Instant now, const IpAddress& local_addr, const Endpoint& remote, std::uint16_t local_port = 0);
  // The next established connection of `listener`, or kNoSocket.
  SocketId Accept(SocketId listener);
  // The connection, or null once the table freed it: after Close()/Abort() and reaching CLOSED
  // (TIME-WAIT included), the pointer must not be used past the next Process/Dispatch.
  TcpConnection* Get(SocketId id);
  // Readiness changes since the last call, for connections the application holds and listeners.
  void DrainEvents(const std::function<void(SocketId, std::uint32_t readiness)>& on_event);

  TcpCounters& counters() { return ctx_->counters; }
  const TcpConfig& config() const { return ctx_->config; }
  void set_trace(std::function<void(const FourTuple&, TcpState, TcpState)> trace) { ctx_->trace = std::move(trace); }
  std::size_t connection_count() const { return conns_.size(); }
  bool HasConnection(const FourTuple& tuple) const { return by_tuple_.count(tuple) != 0; }
  std::size_t timer_count() const { return wheel_.size(); }

 private:
  struct Listener {
    Endpoint local;
    std::size_t backlog = 0;
    std::deque<SocketId> queue;  // established, not yet accepted
    std::size_t half_open = 0;   // SYN-RECEIVED children
    TcpOptionHookFactory hook_factory;  // may be empty
  };
  struct Entry {
    std::unique_ptr<TcpConnection> conn;
    SocketId listener = kNoSocket;  // parent until accepted
    bool queued = false;            // in the parent's accept queue
    bool handed = false;            // the application holds it (connect or accept)
    bool dirty = false;             // in dirty_
    std::uint32_t last_readiness = 0;
  };

  SocketId FindListener(const Endpoint& local) const;
  void ListenerInput(Instant now, SocketId lid, const FourTuple& tuple, const TcpRepr& seg);
  // `hook`: the option hook of a connection refused at its SYN, which may add options to the RST.
  void ReplyRst(const FourTuple& tuple, const TcpRepr& seg, TcpOptionHook* hook = nullptr);
  SocketId Insert(std::unique_ptr<TcpConnection> conn);
  void MarkDirty(SocketId id);
  // After any activity: accept queue, freeing, readiness events, the timer.
  void Settle(SocketId id);
  void Remove(SocketId id);

  std::unique_ptr<TcpContext> ctx_;
  std::unordered_map<SocketId, Entry> conns_;
  std::unordered_map<FourTuple, SocketId, FourTupleHash> by_tuple_;
  std::unordered_map<SocketId, Listener> listeners_;
  std::map<Endpoint, SocketId> listen_by_endpoint_;
  TimerWheel wheel_;
  std::vector<SocketId> dirty_;
  // A RST owed by the table itself. Option bytes a hook added are copied here (the hook is gone by
  // the time the RST goes out); rst.mptcp is pointed at them when it is emitted.
  struct Reply {
    FourTuple tuple;
    TcpRepr rst;
    std::array<std::uint8_t, 40> option_bytes{};
    std::array<std::uint8_t, TcpRepr::kMaxMptcpOptions> option_lens{};
  };
  std::deque<Reply> replies_;
  std::vector<std::pair<SocketId, std::uint32_t>> events_;
  SocketId next_id_ = 1;
  std::uint32_t ephemeral_next_ = 0;
};

}  // namespace braid::ustack
