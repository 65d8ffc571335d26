// MPTCP connections over a Stack, with the Stack's socket API (stack/socket_api.h): an application
// listens, connects, sends and receives as with plain TCP; a connection is MPTCP when the peer
// speaks it and plain TCP (the subflow itself) when it does not (RFC 8684 3.1 fallback).
//
// Each connection is one subflow (its TcpConnection in the Stack, whose SocketId is also the MPTCP
// socket's id) carrying a DssHook, which owns the connection level (Msk). Poll runs the Stack in two
// halves and moves bytes between them: subflow receive buffer -> Msk (within the Msk's window: what
// does not fit stays in the subflow and closes its TCP window), Msk::PollTransmit -> subflow send
// buffer. The subflow is closed (FIN) once both DATA_FINs are acknowledged, as Linux does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/dss_hook.h"
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
  const Msk* msk(SocketId id) const;
  const HandshakeCounters& handshake_counters() const { return ctx_.counters; }
  std::size_t connection_count() const { return conns_.size(); }
  Stack& stack() { return stack_; }

 private:
  struct Conn {
    std::shared_ptr<MptcpConnState> state;
    DssHook* hook = nullptr;  // owned by the subflow's TcpConnection; null once that is gone
    bool app_shutdown = false;
    bool app_closed = false;
    bool subflow_closed = false;  // we closed the subflow (both DATA_FINs done)
    bool subflow_gone = false;    // the Stack freed the subflow
  };
  std::unique_ptr<TcpOptionHook> MakeHook(SubflowHook::Role role, SocketId owner_hint);
  Conn* Find(SocketId id);
  const Conn* Find(SocketId id) const;
  bool UsesMsk(const Conn& c) const { return c.state->msk != nullptr && !c.state->fallback; }
  // Moves bytes and DATA_FINs between one connection's subflow and its Msk; false when it may go.
  bool Pump(Instant now, SocketId id, Conn& c);

  Stack& stack_;
  MptcpStackConfig cfg_;
  TokenTable tokens_;
  SubflowContext ctx_;
  std::map<SocketId, Conn> conns_;
  std::uint64_t next_owner_ = 1;
  bool dirty_ = false;  // an application call left work for the next Poll
};

}  // namespace braid::ustack::mptcp
