// The socket-like application API a stack offers, so that one application (tools/ustack_app.h) runs
// over plain TCP (Stack) or MPTCP with fallback (mptcp::MptcpStack) unchanged. Non-blocking; sockets
// are named by SocketId; readiness is read level-wise through Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "ustack/tcp/buffer.h"
#include "ustack/tcp/tcp_table.h"
#include "ustack/tcp/tcp_types.h"
#include "ustack/wire/instant.h"

namespace braid::ustack {

// What an application needs to know about one connection, in one read.
struct SocketStatus {
  bool exists = false;     // the id names a connection the stack still knows
  bool connected = false;  // reached ESTABLISHED once (data may flow)
  TcpError error = TcpError::kOk;
  bool eof = false;        // the peer finished and everything it sent has been read
  bool closed = false;     // after Close: the close handshake is over (TIME-WAIT or CLOSED)
  bool mptcp = false;      // carried over MPTCP (not plain TCP, not fallen back)
  std::uint32_t subflows = 0;  // MPTCP: its subflows now (the first included)
  bool dss_checksums = false;  // MPTCP: DSS checksums negotiated
  Endpoint remote;
};

class SocketApi {
 public:
  virtual ~SocketApi() = default;
  virtual OpenResult Listen(const Endpoint& local, int backlog = 0) = 0;
  virtual OpenResult Connect(Instant now, const Endpoint& remote, std::uint16_t local_port = 0) = 0;
  virtual SocketId Accept(SocketId listener) = 0;
  virtual IoResult Send(SocketId id, std::span<const std::uint8_t> data) = 0;
  virtual TcpError SendBuffer(SocketId id, TcpBufferPtr& buffer) = 0;
  virtual IoResult Recv(SocketId id, std::span<std::uint8_t> out) = 0;
  virtual std::span<const std::uint8_t> RecvPeek(SocketId id) = 0;
  virtual void RecvConsume(SocketId id, std::size_t n) = 0;
  virtual TcpError Shutdown(SocketId id) = 0;
  virtual TcpError Close(SocketId id) = 0;
  virtual TcpError Abort(SocketId id) = 0;
  virtual SocketStatus Status(SocketId id) = 0;
  virtual void DrainEvents(const std::function<void(SocketId, std::uint32_t readiness)>& on_event) = 0;
};

}  // namespace braid::ustack
