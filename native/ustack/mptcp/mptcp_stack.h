// MPTCP connections over a Stack, with the Stack's socket API (stack/socket_api.h): an application
// listens, connects, sends and receives as with plain TCP; a connection is MPTCP when the peer
// speaks it and plain TCP (the subflow itself) when it does not (RFC 8684 3.1 fallback).
//
// A connection starts as one subflow (its TcpConnection in the Stack, whose SocketId is also the
// MPTCP socket's id) carrying a DssHook, which creates the connection level (Msk). The peer may add
// subflows with MP_JOIN to our listener (JoinHook; they never reach the application's Accept).
// Poll runs the Stack in two halves and moves bytes between them: each subflow's receive buffer ->
// Msk (within the Msk's window: what does not fit stays in the subflow and closes its TCP window),
// Msk::PollTransmit -> the chosen subflow's send buffer. Subflows close (FIN) once both DATA_FINs
// are acknowledged, as Linux does; a subflow that fails earlier has its data reinjected.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <vector>

#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/dss_hook.h"
#include "ustack/mptcp/join_hook.h"
#include "ustack/mptcp/msk.h"
#include "ustack/mptcp/subflow_hook.h"
#include "ustack/stack/socket_api.h"
#include "ustack/stack/stack.h"

namespace braid::ustack::mptcp {

struct MptcpStackConfig {
  bool enabled = true;  // false: plain TCP (no MP_CAPABLE offered or answered)
  SubflowConfig subflow;
  MskConfig msk;
  MptcpStackConfig() {
    msk.max_mapping = 65000;  // large mappings, few segment cuts (DATA_FIN + 1 still fits 16 bits)
  }
};

class MptcpStack : public SocketApi {
 public:
  // `stack` must outlive this object; its Poll is not to be called directly any more.
  MptcpStack(Stack& stack, MptcpStackConfig config = {});
  MptcpStack(const MptcpStack&) = delete;
  MptcpStack& operator=(const MptcpStack&) = delete;

  // ---- driver side: replaces Stack::Poll / NextDeadline
  StackPollResult Poll(Instant now);
  std::optional<Instant> NextDeadline() const;

  // ---- SocketApi
  OpenResult Listen(const Endpoint& local, int backlog = 0) override;
  OpenResult Connect(Instant now, const Endpoint& remote, std::uint16_t local_port = 0) override;
  SocketId Accept(SocketId listener) override;
  IoResult Send(SocketId id, std::span<const std::uint8_t> data) override;
  TcpError SendBuffer(SocketId id, TcpBufferPtr& buffer) override;  // copies into the Msk when MPTCP
  IoResult Recv(SocketId id, std::span<std::uint8_t> out) override;
  std::span<const std::uint8_t> RecvPeek(SocketId id) override;
  void RecvConsume(SocketId id, std::size_t n) override;
  TcpError Shutdown(SocketId id) override;  // DATA_FIN after the queued data
  TcpError Close(SocketId id) override;
  TcpError Abort(SocketId id) override;
  SocketStatus Status(SocketId id) override;
  void DrainEvents(const std::function<void(SocketId, std::uint32_t readiness)>& on_event) override;

  // ---- introspection
  // MPTCP negotiated (false while negotiating, after fallback, for unknown ids).
  bool IsMptcp(SocketId id) const;
  bool IsFallback(SocketId id) const;
  bool UsesChecksums(SocketId id) const;  // DSS checksums negotiated (either side's A bit)
  const Msk* msk(SocketId id) const;
  const HandshakeCounters& handshake_counters() const { return ctx_.counters; }
  const JoinCounters& join_counters() const { return join_counters_; }
  // Checksums, MP_FAIL, infinite mappings, MP_TCPRST, MP_FASTCLOSE (mptcp/integrity.h).
  const IntegrityCounters& integrity_counters() const { return ctx_.integrity; }
  // The reason of the last MP_TCPRST the peer sent on any subflow of the connection.
  std::optional<std::uint8_t> peer_reset_reason(SocketId id) const;
  // Subflows of the connection, the first included (0 for unknown ids and plain TCP: 1).
  std::size_t subflow_count(SocketId id) const;
  std::size_t connection_count() const { return conns_.size(); }
  Stack& stack() { return stack_; }

 private:
  struct Conn {
    std::shared_ptr<MptcpConnState> state;
    std::map<SubflowId, SocketId> subflows;  // the first (DssHook::kInitialSubflow) is the socket
    bool app_shutdown = false;
    bool app_closed = false;
    bool subflows_closed = false;  // we closed the subflows (both DATA_FINs done)
    bool subflow_gone = false;     // the Stack freed the first subflow
    TcpError error = TcpError::kOk;  // the peer's MP_FASTCLOSE reset the whole connection
    // After a fallback to TCP mid-connection (RFC 8684 3.7) the first subflow is the connection:
    // the Msk's unread bytes are read first, its unsent bytes go to the subflow before new ones.
    bool handed_over = false;
    std::vector<std::uint8_t> fallback_tx;
    std::size_t fallback_tx_off = 0;
    bool tcp_shutdown = false;
    bool tcp_closed = false;
    bool fallback_tx_pending() const { return fallback_tx_off < fallback_tx.size(); }
  };
  std::unique_ptr<TcpOptionHook> MakeHook(SubflowHook::Role role);
  std::unique_ptr<TcpOptionHook> ListenerHook(const TcpRepr& syn);
  Conn* Find(SocketId id);
  const Conn* Find(SocketId id) const;
  bool UsesMsk(const Conn& c) const { return c.state->msk != nullptr && !c.state->fallback; }
  // Takes established connections off the listeners: joins go to their connection, the rest wait
  // for the application's Accept.
  void CollectAccepted();
  // Moves bytes and DATA_FINs between one connection's subflows and its Msk.
  void Pump(Instant now, Conn& c);
  // A mapping's checksum failed on subflow `sf` (RFC 8684 3.7); false when the subflow is gone.
  bool OnChecksumFailure(Conn& c, SubflowId sf, SocketId sid, std::uint64_t dsn);
  // Fallback to TCP after the handshake: hands the Msk's unsent bytes to the first subflow.
  void HandOver(Conn& c);
  void PumpFallback(Conn& c);
  // The peer's MP_FASTCLOSE (RFC 8684 3.5): every subflow resets, the application sees a reset.
  void ResetAll(Conn& c);
  // Reads from the Msk while it holds bytes (MPTCP, or just fallen back to TCP).
  static bool ReadsMsk(const Conn& c) {
    return c.state->msk && (!c.state->fallback || c.state->msk->readable() > 0);
  }

  Stack& stack_;
  MptcpStackConfig cfg_;
  TokenTable tokens_;
  SubflowContext ctx_;
  std::map<SocketId, Conn> conns_;
  std::map<std::uint64_t, std::weak_ptr<MptcpConnState>> by_owner_;  // TokenTable owner -> connection
  std::map<SocketId, std::deque<SocketId>> accepted_;  // per listener: connections for Accept
  std::deque<SocketId> joins_waiting_;  // joined subflows whose connection the app has not accepted yet
  JoinCounters join_counters_;
  std::uint64_t next_owner_ = 1;
  bool dirty_ = false;  // an application call left work for the next Poll
};

}  // namespace braid::ustack::mptcp
