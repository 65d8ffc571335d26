#include "ustack/stack/stack.h"

#include <algorithm>
#include <stdexcept>
#include <string>
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
    : cfg_(std::move(config)), tcp_(FitToDevice(cfg_.tcp, device), isn) {
  AddInterface(device, cfg_.iface);
}

std::size_t Stack::AddInterface(Device& device, const InterfaceConfig& config) {
  if (!ifaces_.empty() && device.capabilities().mtu < ifaces_.front().device->capabilities().mtu) {
    throw std::invalid_argument("ustack: interface " + std::to_string(ifaces_.size()) +
                                " has a smaller MTU than interface 0 (TCP's MSS fits interface 0)");
  }
  for (const auto* cidr : {&config.ipv4, &config.ipv6}) {
    if (*cidr && InterfaceOf((*cidr)->addr)) {
      throw std::invalid_argument("ustack: interface " + std::to_string(ifaces_.size()) +
                                  " repeats an address of another interface");
    }
  }
  Port port{&device, config, std::make_unique<Interface>(device, config)};
  const std::size_t index = ifaces_.size();
  port.iface->set_tcp_handler(
      [this, index](Instant now, const FourTuple& tuple, const TcpRepr& seg) { OnSegment(index, now, tuple, seg); });
  // Weak host (as Linux): TCP to any of this stack's addresses is taken on any interface.
  port.iface->set_host_address_filter([this](const IpAddress& ip) { return InterfaceOf(ip).has_value(); });
  ifaces_.push_back(std::move(port));
  return ifaces_.size() - 1;
}

std::optional<std::size_t> Stack::InterfaceOf(const IpAddress& ip) const {
  for (std::size_t i = 0; i < ifaces_.size(); ++i) {
    const InterfaceConfig& c = ifaces_[i].config;
    if ((c.ipv4 && c.ipv4->addr == ip) || (c.ipv6 && c.ipv6->addr == ip) || ifaces_[i].iface->link_local() == ip) {
      return i;
    }
  }
  return std::nullopt;
}

Stack::Port& Stack::PortFor(const FourTuple& tuple) {
  if (!ties_.empty()) {
    if (auto it = ties_.find(tuple); it != ties_.end()) return ifaces_[it->second];
  }
  return ifaces_[InterfaceOf(tuple.local.addr).value_or(0)];
}

void Stack::OnSegment(std::size_t index, Instant now, const FourTuple& tuple, const TcpRepr& seg) {
  // Only a SYN can open a connection: other segments pay no extra lookup.
  const bool syn = seg.has(kTcpSyn) && !seg.has(kTcpAck);
  const bool existed = syn && tcp_.HasConnection(tuple);
  tcp_.Process(now, tuple, seg);
  // A new connection whose SYN came over a link other than its address's own: tie it to that link
  // (a tie left by an earlier connection of the same four-tuple is replaced).
  if (syn && !existed && tcp_.HasConnection(tuple)) {
    if (InterfaceOf(tuple.local.addr) != index) {
      ties_[tuple] = index;
    } else {
      ties_.erase(tuple);
    }
  }
  // Sweep ties of freed connections whenever the map doubled since the last sweep.
  if (ties_.size() > 2 * ties_checked_at_ + 16) {
    std::erase_if(ties_, [this](const auto& t) { return !tcp_.HasConnection(t.first); });
    ties_checked_at_ = ties_.size();
  }
}

StackPollResult Stack::Poll(Instant now) {
  StackPollResult r = Input(now);
  Output(now, r);
  return r;
}

StackPollResult Stack::Input(Instant now) {
  last_poll_ = now;
  StackPollResult r;
  // Interface::Poll also runs the neighbour timers, so it is called even when nothing arrived.
  for (Port& p : ifaces_) r.frames_in += p.iface->Poll(now, cfg_.rx_budget);
  return r;
}

void Stack::Output(Instant now, StackPollResult& r) {
  last_poll_ = now;
  tcp_.Dispatch(now, [&](const FourTuple& tuple, const TcpRepr& seg) {
    // Only a full device is worth a retry: TCP keeps the segment and offers it again. Any other
    // drop (no route, unresolved neighbour) counts as a loss that retransmission covers.
    Interface& iface = *PortFor(tuple).iface;
    const std::uint64_t full_before = iface.drops(IfaceDrop::kTxDeviceFull);
    if (iface.SendTcp(tuple, seg) == SendResult::kDropped && iface.drops(IfaceDrop::kTxDeviceFull) != full_before) {
      r.device_full = true;
      return false;
    }
    ++r.segments_out;
    return true;
  });
  for (Port& p : ifaces_) p.device->Flush(now);
}

std::optional<Instant> Stack::NextDeadline() const {
  std::optional<Instant> next = tcp_.PollAt();
  for (const Port& p : ifaces_) next = Earlier(next, p.iface->NextDeadline());
  return next;
}

OpenResult Stack::Listen(const Endpoint& local, int backlog) {
  if (local.port == 0) return {kNoSocket, TcpError::kInvalidArgument};
  return tcp_.Listen(local, backlog);
}

std::optional<IpAddress> Stack::LocalFor(const Port& port, const IpAddress& remote) const {
  if (remote.is_v4()) return port.config.ipv4 ? std::optional(port.config.ipv4->addr) : std::nullopt;
  if (IsLinkLocal(remote)) return port.iface->link_local();
  return port.config.ipv6 ? std::optional(port.config.ipv6->addr) : std::nullopt;
}

OpenResult Stack::Connect(Instant now, const Endpoint& remote, std::uint16_t local_port) {
  // From the first interface with an address of the remote's family.
  for (const Port& p : ifaces_) {
    if (const auto local = LocalFor(p, remote.addr)) return tcp_.Connect(now, *local, remote, local_port);
  }
  return {kNoSocket, TcpError::kInvalidArgument};
}

OpenResult Stack::ConnectFrom(Instant now, const IpAddress& local, const Endpoint& remote, std::uint16_t local_port) {
  if (!InterfaceOf(local) || local.is_v4() != remote.addr.is_v4()) return {kNoSocket, TcpError::kInvalidArgument};
  return tcp_.Connect(now, local, remote, local_port);
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
