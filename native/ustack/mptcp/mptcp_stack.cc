#include "ustack/mptcp/mptcp_stack.h"

#include <algorithm>
#include <limits>

#include "ustack/mptcp/dss_checksum.h"
#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

MptcpStack::MptcpStack(Stack& stack, MptcpStackConfig config)
    : stack_(stack), cfg_(std::move(config)), ctx_(cfg_.subflow, tokens_) {}

std::unique_ptr<TcpOptionHook> MptcpStack::MakeHook(SubflowHook::Role role) {
  auto state = std::make_shared<MptcpConnState>();
  state->msk_config = cfg_.msk;
  const std::uint64_t owner = next_owner_++;
  by_owner_[owner] = state;
  return std::make_unique<DssHook>(ctx_, role, owner, std::move(state));
}

std::unique_ptr<TcpOptionHook> MptcpStack::ListenerHook(const TcpRepr& syn) {
  ReceivedOptions opts;
  ParseOptions(syn, &opts);
  if (!opts.has(kOptMpjSyn)) return MakeHook(SubflowHook::Role::kServer);
  // RFC 8684 3.2: the token names the connection to join; an unknown one is refused.
  std::shared_ptr<MptcpConnState> state;
  if (const auto owner = tokens_.Find(opts.mpj_syn.token)) {
    if (auto it = by_owner_.find(*owner); it != by_owner_.end()) state = it->second.lock();
  }
  if (state && (!state->msk || state->fallback || !state->local_key || !state->remote_key)) state.reset();
  const SubflowId id = state ? state->next_subflow++ : 0;
  return std::make_unique<JoinHook>(std::move(state), id, join_counters_);
}

MptcpStack::Conn* MptcpStack::Find(SocketId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

const MptcpStack::Conn* MptcpStack::Find(SocketId id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

std::size_t MptcpStack::subflow_count(SocketId id) const {
  const Conn* c = Find(id);
  return c == nullptr ? 0 : c->subflows.size();
}

// ---- driver

void MptcpStack::CollectAccepted() {
  for (auto& [listener, queue] : accepted_) {
    for (SocketId id; (id = stack_.Accept(listener)) != kNoSocket;) {
      TcpConnection* t = stack_.connection(id);
      if (t != nullptr && dynamic_cast<JoinHook*>(t->option_hook()) != nullptr) {
        joins_waiting_.push_back(id);
      } else {
        queue.push_back(id);
      }
    }
  }
  // Joined subflows go to their connection once the application holds it.
  for (std::size_t n = joins_waiting_.size(); n > 0; --n) {
    const SocketId id = joins_waiting_.front();
    joins_waiting_.pop_front();
    TcpConnection* t = stack_.connection(id);
    auto* join = t ? dynamic_cast<JoinHook*>(t->option_hook()) : nullptr;
    if (join == nullptr || join->dss() == nullptr) {
      if (t) stack_.Abort(id);
      continue;
    }
    const auto& state = join->dss()->conn();
    Conn* c = state->socket == kNoSocket ? nullptr : Find(state->socket);
    if (state->socket != kNoSocket && (c == nullptr || c->state != state || c->subflows_closed)) {
      stack_.Abort(id);  // its connection is gone or closing
      continue;
    }
    if (c == nullptr) {
      joins_waiting_.push_back(id);
      continue;
    }
    c->subflows.emplace(join->dss()->id(), id);
  }
}

StackPollResult MptcpStack::Poll(Instant now) {
  StackPollResult r = stack_.Input(now);
  dirty_ = false;
  CollectAccepted();
  for (auto& [id, c] : conns_) Pump(now, c);
  stack_.Output(now, r);
  // Forget connections the application closed once the Stack freed their first subflow (the
  // output may just have ended a TIME-WAIT).
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (stack_.connection(it->first) == nullptr) it->second.subflow_gone = true;
    if (it->second.app_closed && it->second.subflow_gone) {
      for (const auto& [sf, sid] : it->second.subflows) {
        if (sid != it->first && stack_.connection(sid) != nullptr) stack_.Close(sid);
      }
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = by_owner_.begin(); it != by_owner_.end();) {
    it = it->second.expired() ? by_owner_.erase(it) : std::next(it);
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

void MptcpStack::Pump(Instant now, Conn& c) {
  if (!UsesMsk(c) || c.subflows_closed) return;
  Msk& m = *c.state->msk;
  const std::size_t want = std::min<std::size_t>(cfg_.msk.max_mapping, stack_.tcp().config().tx_buffer / 4);
  if (c.app_shutdown) m.Shutdown();

  // Per subflow: failures, received bytes into the connection level (as far as its window goes;
  // the rest waits in the subflow, whose own window then closes), the state the scheduler sees.
  for (auto it = c.subflows.begin(); it != c.subflows.end();) {
    const SubflowId sf = it->first;
    TcpConnection* t = stack_.connection(it->second);
    DssSubflow* dss = t ? DssOf(t->option_hook()) : nullptr;
    if (t == nullptr || dss == nullptr || t->error() != TcpError::kOk || t->state() == TcpState::kClosed) {
      // Gone before the end: what it carried and the peer did not DATA_ACK goes on the others.
      if (m.HasSubflow(sf)) m.SubflowFailed(sf);
      if (sf == DssHook::kInitialSubflow) {
        ++it;  // the socket's own subflow stays listed: its status is the connection's error
      } else {
        if (t != nullptr) stack_.Close(it->second);
        it = c.subflows.erase(it);
      }
      continue;
    }
    for (;;) {
      const auto view = t->RecvPeek();
      const std::size_t room = std::min<std::size_t>(view.size(), m.receive_window());
      if (room == 0) break;
      const std::size_t n = m.OnSubflowData(sf, view.first(room));
      if (n == 0) break;
      t->RecvConsume(n);
    }
    // New mappings only into a send buffer with room for a large one (a segment never straddles
    // two mappings, so small mappings would mean small segments).
    const bool can_send = m.HasSubflow(sf) && (t->state() == TcpState::kEstablished || t->state() == TcpState::kCloseWait);
    SubflowParams p;
    p.established = can_send;
    if (auto* join = dynamic_cast<JoinHook*>(t->option_hook())) p.backup = join->backup();
    p.srtt = t->rtt().srtt();
    const std::size_t free = t->send_free();
    p.send_space = can_send && free >= want ? static_cast<std::uint32_t>(free) : 0;
    m.UpdateSubflow(sf, p);
    m.OnSubflowAcked(sf, t->snd_una() - dss->iss());
    // Checksums of mappings the subflow has wholly acknowledged are never sent again.
    if (auto cs = c.state->tx_checksums.find(sf); cs != c.state->tx_checksums.end()) {
      while (!cs->second.empty() && SeqLe(cs->second.front().end, t->snd_una() - dss->iss())) cs->second.pop_front();
    }
    if (c.state->ack_owed.erase(sf) != 0) t->RequestAck();
    ++it;
  }

  for (const Transmit& x : m.PollTransmit(now)) {
    const auto sit = c.subflows.find(x.subflow);
    TcpConnection* t = sit == c.subflows.end() ? nullptr : stack_.connection(sit->second);
    if (t == nullptr) {
      m.SubflowFailed(x.subflow);
      continue;
    }
    if (x.data.empty()) {
      if (x.mapping.data_fin) {
        c.state->pending_data_fin[x.subflow] = x.mapping;
        t->RequestAck();
      }
      continue;
    }
    if (c.state->checksums()) {
      // RFC 8684 3.3.1 over the whole mapping; its length as on the wire, the DATA_FIN counted
      // (as Linux's validate_data_csum checks it).
      const auto len = static_cast<std::uint16_t>(x.mapping.length + (x.mapping.data_fin ? 1 : 0));
      c.state->tx_checksums[x.subflow].push_back(MptcpConnState::TxChecksum{
          x.mapping.ssn, x.mapping.ssn + x.mapping.length, DssChecksum(x.mapping.dsn, x.mapping.ssn, len, x.data)});
    }
    const IoResult r = t->Send(x.data);
    if (r.bytes != x.data.size()) {
      // The mapping's bytes must follow each other in the subflow: a short write breaks it.
      t->Abort();
      m.SubflowFailed(x.subflow);
    }
  }

  // The peer's DATA_FIN reached: acknowledge it even though no TCP segment needs an ACK.
  const auto fin = m.peer_data_fin();
  const bool fin_reached = fin && m.data_ack().ack == *fin + 1;
  TcpConnection* first = stack_.connection(c.subflows.begin()->second);
  if (fin_reached && c.state->data_ack_sent != m.data_ack().ack && first != nullptr) first->RequestAck();
  // Both DATA_FINs acknowledged (and ours announced): the subflows close, as Linux does.
  if (fin_reached && c.state->data_ack_sent == m.data_ack().ack && m.send_done()) {
    for (const auto& [sf, sid] : c.subflows) {
      if (TcpConnection* t = stack_.connection(sid)) t->Close();
    }
    c.subflows_closed = true;
  }
}

// ---- application

OpenResult MptcpStack::Listen(const Endpoint& local, int backlog) {
  const OpenResult r = stack_.Listen(local, backlog);
  if (!r.ok()) return r;
  accepted_[r.id];
  if (cfg_.enabled) {
    stack_.tcp().SetOptionHookFactory(r.id, [this](const FourTuple&, const TcpRepr& syn) { return ListenerHook(syn); });
  }
  return r;
}

OpenResult MptcpStack::Connect(Instant now, const Endpoint& remote, std::uint16_t local_port) {
  const OpenResult r = stack_.Connect(now, remote, local_port);
  if (!r.ok()) return r;
  Conn c;
  if (cfg_.enabled) {
    auto hook = MakeHook(SubflowHook::Role::kClient);
    c.state = static_cast<DssHook*>(hook.get())->conn();
    stack_.connection(r.id)->set_option_hook(std::move(hook));
  } else {
    c.state = std::make_shared<MptcpConnState>();
    c.state->fallback = true;
  }
  c.state->socket = r.id;
  c.subflows.emplace(DssHook::kInitialSubflow, r.id);
  conns_.emplace(r.id, std::move(c));
  return r;
}

SocketId MptcpStack::Accept(SocketId listener) {
  auto q = accepted_.find(listener);
  if (q == accepted_.end()) return stack_.Accept(listener);
  CollectAccepted();
  if (q->second.empty()) return kNoSocket;
  const SocketId id = q->second.front();
  q->second.pop_front();
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
  c.state->socket = id;
  c.subflows.emplace(DssHook::kInitialSubflow, id);
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
  if (!c->state->msk || c->app_shutdown || c->state->msk->send_free() < buffer->bytes().size()) {
    return TcpError::kWouldBlock;
  }
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
  dirty_ = true;  // room for what waits in the subflows
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
  if (c == nullptr) {
    accepted_.erase(id);
    return stack_.Close(id);  // a listener (or an unknown id)
  }
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
  // TODO(mp_fastclose): an MPTCP abort should send MP_FASTCLOSE (RFC 8684 3.5); RSTs on every
  // subflow end the connection as well.
  for (const auto& [sf, sid] : c->subflows) {
    if (sid != id && stack_.connection(sid) != nullptr) stack_.Abort(sid);
  }
  return stack_.Abort(id);
}

SocketStatus MptcpStack::Status(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return {};
  if (c->state->fallback) return stack_.Status(id);
  SocketStatus st = stack_.Status(id);
  st.exists = true;
  st.mptcp = UsesMsk(*c);
  st.subflows = static_cast<std::uint32_t>(c->subflows.size());
  st.dss_checksums = st.mptcp && c->state->checksums();
  if (const Msk* m = c->state->msk.get()) {
    st.eof = m->eof();
    st.closed = c->subflow_gone || (c->subflows_closed && st.closed);
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

bool MptcpStack::UsesChecksums(SocketId id) const {
  const Conn* c = Find(id);
  return c != nullptr && UsesMsk(*c) && c->state->checksums();
}

const Msk* MptcpStack::msk(SocketId id) const {
  const Conn* c = Find(id);
  return c == nullptr ? nullptr : c->state->msk.get();
}

}  // namespace braid::ustack::mptcp
