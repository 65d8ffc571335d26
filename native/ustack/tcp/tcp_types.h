// Small value types shared by the control block, the table and the application API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "ustack/wire/ip_address.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack {

// Names a connection or a listener within one TcpTable. 0 is never used.
using SocketId = std::uint32_t;
inline constexpr SocketId kNoSocket = 0;

// RFC 9293 3.3.2 states. TcpStateName() gives the RFC spelling ("SYN-RECEIVED").
enum class TcpState : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};
const char* TcpStateName(TcpState s);

enum class TcpError : std::uint8_t {
  kOk,
  kWouldBlock,          // no data / no room right now; wait for a readiness event
  kNotConnected,        // the operation needs a state the connection is not in
  kClosed,              // this direction was shut down (by us for send)
  kConnectionRefused,   // RST in answer to our SYN
  kConnectionReset,     // RST on a synchronized connection
  kTimedOut,            // retransmissions or SYN retries exhausted
  kAddressInUse,        // the four-tuple or listening endpoint is taken
  kNoEphemeralPort,     // every ephemeral port to that destination is in use
  kInvalidArgument,
};
const char* TcpErrorName(TcpError e);

// Readiness bits for the application (edge-reported by TcpTable::DrainEvents, level-read by
// TcpConnection::readiness()).
enum TcpReadiness : std::uint32_t {
  kTcpReadable = 1u << 0,    // data to read, or end of stream, or an error
  kTcpWritable = 1u << 1,    // room in the send buffer on a connection that may send
  kTcpConnected = 1u << 2,   // the handshake completed (stays set)
  kTcpHangup = 1u << 3,      // the connection reached CLOSED (reset, timed out or fully closed)
  kTcpError = 1u << 4,       // error() != kOk
  kTcpAcceptable = 1u << 5,  // listeners only: Accept() will return a connection
};

// The result of Send/Recv: bytes moved, or why none were. {0, kOk} from Recv is end of stream.
struct IoResult {
  std::size_t bytes = 0;
  TcpError error = TcpError::kOk;
};

// Where segments leave the stack: the IP layer. `repr.payload` points into the send buffer and is
// valid only during the call. Return false when the device has no room; the segment is then
// considered not sent and will be offered again by a later Dispatch.
using TcpEmit = std::function<bool(const FourTuple& tuple, const TcpRepr& repr)>;

}  // namespace braid::ustack
