#include "ustack/stack/stack.h"

#include <algorithm>
#include <utility>

namespace braid::ustack {

namespace {

constexpr std::size_t kIpv4TcpHeaders = 20 + 20;  // IPv4 + TCP headers without options

bool IsLinkLocal(const IpAddress& ip) { return !ip.is_v4() && ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80; }

std::optional<Instant> Earlier(std::optional<Instant> a, std::optional<Instant> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

TcpConfig Stack::FitToDevice(TcpConfig tcp, const Device& device) {
  const std::size_t mtu = device.capabilities().mtu;
  if (mtu > kIpv4TcpHeaders + 64) {
    tcp.mss = static_cast<std::uint16_t>(std::min<std::size_t>(tcp.mss, mtu - kIpv4TcpHeaders));
  }
  return tcp;
}

Stack::Stack(Device& device, StackConfig config, IsnGenerator isn)
    : cfg_(std::move(config)),
      dev_(device),
      iface_(device, cfg_.iface),
      tcp_(FitToDevice(cfg_.tcp, device), isn) {
  iface_.set_tcp_handler(
      [this](Instant now, const FourTuple& tuple, const TcpRepr& seg) { OnSegment(now, tuple, seg); });
}

void Stack::OnSegment(Instant now, const FourTuple& tuple, const TcpRepr& seg) { tcp_.Process(now, tuple, seg); }

StackPollResult Stack::Poll(Instant now) {
  StackPollResult r = Input(now);
  Output(now, r);
  return r;
}

StackPollResult Stack::Input(Instant now) {
  last_poll_ = now;
  StackPollResult r;
  // Interface::Poll also runs the neighbour timers, so it is called even when nothing arrived.
  r.frames_in = iface_.Poll(now, cfg_.rx_budget);
  return r;
}

void Stack::Output(Instant now, StackPollResult& r) {
  last_poll_ = now;
  tcp_.Dispatch(now, [&](const FourTuple& tuple, const TcpRepr& seg) {
    // Only a full device is worth a retry: TCP keeps the segment and offers it again. Any other
    // drop (no route, unresolved neighbour) counts as a loss that retransmission covers.
    const std::uint64_t full_before = iface_.drops(IfaceDrop::kTxDeviceFull);
    if (iface_.SendTcp(tuple, seg) == SendResult::kDropped &&
        iface_.drops(IfaceDrop::kTxDeviceFull) != full_before) {
      r.device_full = true;
      return false;
    }
    ++r.segments_out;
    return true;
  });
  dev_.Flush(now);
}

std::optional<Instant> Stack::NextDeadline() const { return Earlier(tcp_.PollAt(), iface_.NextDeadline()); }

OpenResult Stack::Listen(const Endpoint& local, int backlog) {
  if (local.port == 0) return {kNoSocket, TcpError::kInvalidArgument};
  return tcp_.Listen(local, backlog);
}

OpenResult Stack::Connect(Instant now, const Endpoint& remote, std::uint16_t local_port) {
  std::optional<IpAddress> local;
  if (remote.addr.is_v4()) {
    if (cfg_.iface.ipv4) local = cfg_.iface.ipv4->addr;
  } else if (IsLinkLocal(remote.addr)) {
    local = iface_.link_local();
  } else if (cfg_.iface.ipv6) {
    local = cfg_.iface.ipv6->addr;
  }
  if (!local) return {kNoSocket, TcpError::kInvalidArgument};
  return tcp_.Connect(now, *local, remote, local_port);
}

SocketId Stack::Accept(SocketId listener) { return tcp_.Accept(listener); }

IoResult Stack::Send(SocketId id, std::span<const std::uint8_t> data) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return {0, TcpError::kNotConnected};
  return c->Send(data);
}

TcpError Stack::SendBuffer(SocketId id, TcpBufferPtr& buffer) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return TcpError::kNotConnected;
  return c->SendBuffer(buffer);
}

IoResult Stack::Recv(SocketId id, std::span<std::uint8_t> out) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return {0, TcpError::kNotConnected};
  return c->Recv(out);
}

std::span<const std::uint8_t> Stack::RecvPeek(SocketId id) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return {};
  return c->RecvPeek();
}

void Stack::RecvConsume(SocketId id, std::size_t n) {
  if (TcpConnection* c = tcp_.Get(id)) c->RecvConsume(n);
}

TcpError Stack::Shutdown(SocketId id) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return TcpError::kNotConnected;
  c->Shutdown();
  return TcpError::kOk;
}

TcpError Stack::Close(SocketId id) {
  if (TcpConnection* c = tcp_.Get(id)) {
    c->Close();
    return TcpError::kOk;
  }
  tcp_.CloseListener(id);  // ignores ids that are no listener
  return TcpError::kOk;
}

TcpError Stack::Abort(SocketId id) {
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return TcpError::kNotConnected;
  c->Abort();
  return TcpError::kOk;
}

std::uint32_t Stack::Readiness(SocketId id) {
  TcpConnection* c = tcp_.Get(id);
  return c == nullptr ? kTcpHangup : c->readiness();
}

TcpError Stack::Error(SocketId id) {
  TcpConnection* c = tcp_.Get(id);
  return c == nullptr ? TcpError::kNotConnected : c->error();
}

SocketStatus Stack::Status(SocketId id) {
  SocketStatus st;
  TcpConnection* c = tcp_.Get(id);
  if (c == nullptr) return st;
  st.exists = true;
  st.connected = (c->readiness() & kTcpConnected) != 0;
  st.error = c->error();
  st.eof = c->peer_finished() && c->recv_available() == 0;
  st.closed = c->state() == TcpState::kTimeWait || c->state() == TcpState::kClosed;
  st.remote = c->tuple().remote;
  return st;
}

void Stack::DrainEvents(const std::function<void(SocketId, std::uint32_t)>& on_event) { tcp_.DrainEvents(on_event); }

}  // namespace braid::ustack
