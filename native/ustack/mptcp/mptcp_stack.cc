#include "ustack/mptcp/mptcp_stack.h"

#include <algorithm>
#include <limits>

namespace braid::ustack::mptcp {

MptcpStack::MptcpStack(Stack& stack, MptcpStackConfig config)
    : stack_(stack), cfg_(std::move(config)), ctx_(cfg_.subflow, tokens_) {}

std::unique_ptr<TcpOptionHook> MptcpStack::MakeHook(SubflowHook::Role role, SocketId /*owner_hint*/) {
  auto state = std::make_shared<MptcpConnState>();
  state->msk_config = cfg_.msk;
  return std::make_unique<DssHook>(ctx_, role, next_owner_++, std::move(state));
}

MptcpStack::Conn* MptcpStack::Find(SocketId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

const MptcpStack::Conn* MptcpStack::Find(SocketId id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

// ---- driver

StackPollResult MptcpStack::Poll(Instant now) {
  StackPollResult r = stack_.Input(now);
  dirty_ = false;
  for (auto& [id, c] : conns_) Pump(now, id, c);
  stack_.Output(now, r);
  // Forget connections the application closed once the Stack freed their subflow (the output may
  // just have ended a TIME-WAIT).
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (stack_.connection(it->first) == nullptr) it->second.subflow_gone = true;
    if (it->second.app_closed && it->second.subflow_gone) {
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
  return r;
}

std::optional<Instant> MptcpStack::NextDeadline() const {
  std::optional<Instant> next = stack_.NextDeadline();
  if (dirty_) return Instant{std::numeric_limits<std::int64_t>::min()};
  for (const auto& [id, c] : conns_) {
    if (!UsesMsk(c)) continue;
    const Instant at = c.state->msk->PollAt();
    if (at.micros == std::numeric_limits<std::int64_t>::max()) continue;
    if (!next || at < *next) next = at;
  }
  return next;
}

bool MptcpStack::Pump(Instant now, SocketId id, Conn& c) {
  TcpConnection* t = stack_.connection(id);
  if (t == nullptr) {
    c.subflow_gone = true;
    return false;
  }
  if (!UsesMsk(c) || c.subflow_closed) return true;
  auto* hook = static_cast<DssHook*>(t->option_hook());
  Msk& m = *c.state->msk;

  // Receive: the subflow's in-order bytes into the connection level, as far as its window goes;
  // the rest waits in the subflow, whose own window then closes (connection-level flow control).
  for (;;) {
    const auto view = t->RecvPeek();
    const std::size_t room = std::min<std::size_t>(view.size(), m.receive_window());
    if (room == 0) break;
    const std::size_t n = m.OnSubflowData(DssHook::kInitialSubflow, view.first(room));
    if (n == 0) break;
    t->RecvConsume(n);
  }

  // Send: new mappings only into a subflow send buffer with room for a large one (a segment never
  // straddles two mappings, so small mappings would mean small segments).
  if (c.app_shutdown) m.Shutdown();
  const bool can_send = t->state() == TcpState::kEstablished || t->state() == TcpState::kCloseWait;
  SubflowParams p;
  p.established = can_send;
  p.srtt = t->rtt().srtt();
  const std::size_t free = t->send_free();
  const std::size_t want = std::min<std::size_t>(cfg_.msk.max_mapping, stack_.tcp().config().tx_buffer / 4);
  p.send_space = can_send && free >= want ? static_cast<std::uint32_t>(free) : 0;
  m.UpdateSubflow(DssHook::kInitialSubflow, p);
  m.OnSubflowAcked(DssHook::kInitialSubflow, t->snd_una() - hook->iss());
  if (can_send) {
    for (const Transmit& x : m.PollTransmit(now)) {
      if (x.data.empty()) {
        if (x.mapping.data_fin) {
          c.state->pending_data_fin = x.mapping;
          t->RequestAck();
        }
        continue;
      }
      const IoResult r = t->Send(x.data);
      if (r.bytes != x.data.size()) {
        // The mapping's bytes must follow each other in the subflow: a short write would break it.
        t->Abort();
        return false;
      }
    }
  }

  // The peer's DATA_FIN reached: acknowledge it even though no TCP segment needs an ACK.
  const auto fin = m.peer_data_fin();
  const bool fin_acked_here = fin && m.data_ack().ack == *fin + 1;
  if (fin_acked_here && c.state->data_ack_sent != m.data_ack().ack) t->RequestAck();
  // Both DATA_FINs acknowledged (and ours announced): the subflow closes, as Linux does.
  if (fin_acked_here && c.state->data_ack_sent == m.data_ack().ack && m.send_done()) {
    t->Close();
    c.subflow_closed = true;
  }
  return true;
}

// ---- application

OpenResult MptcpStack::Listen(const Endpoint& local, int backlog) {
  const OpenResult r = stack_.Listen(local, backlog);
  if (r.ok() && cfg_.enabled) {
    stack_.tcp().SetOptionHookFactory(r.id, [this](const FourTuple&, const TcpRepr&) {
      return MakeHook(SubflowHook::Role::kServer, kNoSocket);
    });
  }
  return r;
}

OpenResult MptcpStack::Connect(Instant now, const Endpoint& remote, std::uint16_t local_port) {
  const OpenResult r = stack_.Connect(now, remote, local_port);
  if (!r.ok()) return r;
  Conn c;
  if (cfg_.enabled) {
    auto hook = MakeHook(SubflowHook::Role::kClient, r.id);
    c.state = static_cast<DssHook*>(hook.get())->conn();
    stack_.connection(r.id)->set_option_hook(std::move(hook));
  } else {
    c.state = std::make_shared<MptcpConnState>();
    c.state->fallback = true;
  }
  conns_.emplace(r.id, std::move(c));
  return r;
}

SocketId MptcpStack::Accept(SocketId listener) {
  const SocketId id = stack_.Accept(listener);
  if (id == kNoSocket) return id;
  Conn c;
  TcpConnection* t = stack_.connection(id);
  if (auto* hook = t ? dynamic_cast<DssHook*>(t->option_hook()) : nullptr) {
    c.state = hook->conn();
    // Accepted means ESTABLISHED: the handshake is decided, MPTCP or not.
    if (!c.state->msk) c.state->fallback = true;
  } else {
    c.state = std::make_shared<MptcpConnState>();
    c.state->fallback = true;
  }
  conns_.emplace(id, std::move(c));
  dirty_ = true;
  return id;
}

IoResult MptcpStack::Send(SocketId id, std::span<const std::uint8_t> data) {
  Conn* c = Find(id);
  if (c == nullptr) return {0, TcpError::kNotConnected};
  if (c->state->fallback) return stack_.Send(id, data);
  if (!c->state->msk) return {0, TcpError::kWouldBlock};  // still negotiating
  if (c->app_shutdown) return {0, TcpError::kInvalidArgument};
  const std::size_t n = c->state->msk->Send(data);
  if (n == 0 && !data.empty()) return {0, TcpError::kWouldBlock};
  dirty_ = true;
  return {n, TcpError::kOk};
}

TcpError MptcpStack::SendBuffer(SocketId id, TcpBufferPtr& buffer) {
  Conn* c = Find(id);
  if (c == nullptr) return TcpError::kNotConnected;
  if (c->state->fallback) return stack_.SendBuffer(id, buffer);
  if (!buffer) return TcpError::kInvalidArgument;
  if (!c->state->msk || c->state->msk->send_free() < buffer->bytes().size()) return TcpError::kWouldBlock;
  c->state->msk->Send(buffer->bytes());
  buffer.reset();
  dirty_ = true;
  return TcpError::kOk;
}

IoResult MptcpStack::Recv(SocketId id, std::span<std::uint8_t> out) {
  Conn* c = Find(id);
  if (c == nullptr) return {0, TcpError::kNotConnected};
  if (c->state->fallback) return stack_.Recv(id, out);
  Msk* m = c->state->msk.get();
  if (m == nullptr || (m->readable() == 0 && !m->eof())) return {0, TcpError::kWouldBlock};
  const std::size_t n = m->Recv(out);
  dirty_ = true;
  return {n, TcpError::kOk};
}

std::span<const std::uint8_t> MptcpStack::RecvPeek(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return {};
  if (c->state->fallback) return stack_.RecvPeek(id);
  return c->state->msk ? c->state->msk->RecvPeek() : std::span<const std::uint8_t>{};
}

void MptcpStack::RecvConsume(SocketId id, std::size_t n) {
  Conn* c = Find(id);
  if (c == nullptr) return;
  if (c->state->fallback) return stack_.RecvConsume(id, n);
  if (c->state->msk) c->state->msk->RecvConsume(n);
  dirty_ = true;  // room for what waits in the subflow
}

TcpError MptcpStack::Shutdown(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return TcpError::kNotConnected;
  if (c->state->fallback) return stack_.Shutdown(id);
  c->app_shutdown = true;
  dirty_ = true;
  return TcpError::kOk;
}

TcpError MptcpStack::Close(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return stack_.Close(id);  // a listener (or an unknown id)
  c->app_closed = true;
  if (c->state->fallback || !c->state->msk) return stack_.Close(id);
  c->app_shutdown = true;
  dirty_ = true;
  return TcpError::kOk;
}

TcpError MptcpStack::Abort(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return TcpError::kNotConnected;
  c->app_closed = true;
  // TODO(mp_fastclose): an MPTCP abort should send MP_FASTCLOSE (RFC 8684 3.5); a RST ends the
  // only subflow, which ends the connection as well.
  return stack_.Abort(id);
}

SocketStatus MptcpStack::Status(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return {};
  if (c->state->fallback) return stack_.Status(id);
  SocketStatus st = stack_.Status(id);
  st.exists = true;
  st.mptcp = UsesMsk(*c);
  if (const Msk* m = c->state->msk.get()) {
    st.eof = m->eof();
    st.closed = c->subflow_gone || (c->subflow_closed && st.closed);
  }
  return st;
}

void MptcpStack::DrainEvents(const std::function<void(SocketId, std::uint32_t)>& on_event) {
  stack_.DrainEvents(on_event);
}

bool MptcpStack::IsMptcp(SocketId id) const {
  const Conn* c = Find(id);
  return c != nullptr && UsesMsk(*c);
}

bool MptcpStack::IsFallback(SocketId id) const {
  const Conn* c = Find(id);
  return c != nullptr && c->state->fallback;
}

const Msk* MptcpStack::msk(SocketId id) const {
  const Conn* c = Find(id);
  return c == nullptr ? nullptr : c->state->msk.get();
}

}  // namespace braid::ustack::mptcp
