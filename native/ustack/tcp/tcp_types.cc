#include "ustack/tcp/tcp_types.h"

namespace braid::ustack {

const char* TcpStateName(TcpState s) {
  switch (s) {
    case TcpState::kClosed: return "CLOSED";
    case TcpState::kListen: return "LISTEN";
    case TcpState::kSynSent: return "SYN-SENT";
    case TcpState::kSynReceived: return "SYN-RECEIVED";
    case TcpState::kEstablished: return "ESTABLISHED";
    case TcpState::kFinWait1: return "FIN-WAIT-1";
    case TcpState::kFinWait2: return "FIN-WAIT-2";
    case TcpState::kCloseWait: return "CLOSE-WAIT";
    case TcpState::kClosing: return "CLOSING";
    case TcpState::kLastAck: return "LAST-ACK";
    case TcpState::kTimeWait: return "TIME-WAIT";
  }
  return "?";
}

const char* TcpErrorName(TcpError e) {
  switch (e) {
    case TcpError::kOk: return "ok";
    case TcpError::kWouldBlock: return "would block";
    case TcpError::kNotConnected: return "not connected";
    case TcpError::kClosed: return "closed";
    case TcpError::kConnectionRefused: return "connection refused";
    case TcpError::kConnectionReset: return "connection reset";
    case TcpError::kTimedOut: return "timed out";
    case TcpError::kAddressInUse: return "address in use";
    case TcpError::kNoEphemeralPort: return "no ephemeral port";
    case TcpError::kInvalidArgument: return "invalid argument";
  }
  return "?";
}

}  // namespace braid::ustack
