#include "ustack/mptcp/mptcp_stack.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <variant>

#include "ustack/mptcp/dss_checksum.h"
#include "ustack/tcp/seq.h"

namespace braid::ustack::mptcp {

MptcpStack::MptcpStack(Stack& stack, MptcpStackConfig config)
    : stack_(stack), cfg_(std::move(config)), ctx_(cfg_.subflow, tokens_) {
  join_counters_.integrity = &ctx_.integrity;
}

std::unique_ptr<TcpOptionHook> MptcpStack::MakeHook(SubflowHook::Role role) {
  auto state = std::make_shared<MptcpConnState>();
  state->msk_config = cfg_.msk;
  state->counters = &ctx_.integrity;
  const std::uint64_t owner = next_owner_++;
  by_owner_[owner] = state;
  return std::make_unique<DssHook>(ctx_, role, owner, std::move(state));
}

std::unique_ptr<TcpOptionHook> MptcpStack::ListenerHook(const FourTuple& tuple, const TcpRepr& syn) {
  ReceivedOptions opts;
  ParseOptions(syn, &opts);
  if (!opts.has(kOptMpjSyn)) return MakeHook(SubflowHook::Role::kServer);
  // RFC 8684 3.2: the token names the connection to join; an unknown one is refused.
  std::shared_ptr<MptcpConnState> state;
  if (const auto owner = tokens_.Find(opts.mpj_syn.token)) {
    if (auto it = by_owner_.find(*owner); it != by_owner_.end()) state = it->second.lock();
  }
  // A known connection that takes no subflow now: Linux refuses with "administratively prohibited".
  bool prohibited = state && (!state->msk || state->fallback || !state->local_key || !state->remote_key ||
                              state->fastclose || state->fastclosed);
  const auto local_id = static_cast<std::uint8_t>(stack_.InterfaceOf(tuple.local.addr).value_or(0));
  if (state && !prohibited) {
    // The path manager decides (subflow limit, path down); before the application accepted the
    // connection there is none yet, only the path's state.
    Conn* c = state->socket == kNoSocket ? nullptr : Find(state->socket);
    const bool accept = c != nullptr && c->pm ? c->pm->OnJoinRequest(local_id) == JoinDecision::kAccept
                                              : PathUp(local_id);
    if (!accept) {
      path_counters_.Inc(PathCounter::kMpJoinRejected);
      prohibited = true;
    }
  }
  if (prohibited) state.reset();
  const SubflowId id = state ? state->next_subflow++ : 0;
  auto hook = std::make_unique<JoinHook>(std::move(state), id, join_counters_);
  hook->set_local(local_id, PathAt(local_id).backup);
  if (prohibited) hook->set_refuse_reason(kRstAdministrativelyProhibited);
  return hook;
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
    Sub& info = c->info[join->dss()->id()];
    info.local_id = join->local_id();
    info.pm_local = join->local_id();
    info.remote_id = join->remote_id();
    info.local_backup = join->local_backup();
    info.remote_backup = join->backup();
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
    for (const Instant at : {c.state->msk->PollAt(), c.pm ? c.pm->NextDeadline() : Instant{INT64_MAX}}) {
      if (at.micros == std::numeric_limits<std::int64_t>::max()) continue;
      if (!next || at < *next) next = at;
    }
    for (const auto& [sf, info] : c.info) {
      if (info.third_ack_at && (!next || *info.third_ack_at < *next)) next = info.third_ack_at;
    }
  }
  return next;
}

void MptcpStack::ResetAll(Conn& c) {
  c.error = TcpError::kConnectionReset;
  c.subflows_closed = true;  // nothing more moves
  for (const auto& [sf, sid] : c.subflows) {
    TcpConnection* t = stack_.connection(sid);
    if (t == nullptr || t->state() == TcpState::kClosed) continue;
    // Not Stack::Abort for the socket's own subflow: the application still holds it.
    t->Abort();
  }
  dirty_ = true;
}

void MptcpStack::HandOver(Conn& c) {
  if (c.handed_over || !c.state->fallback || !c.state->msk) return;
  c.handed_over = true;
  c.fallback_tx = c.state->msk->TakeUnsent();
  c.fallback_tx_off = 0;
  c.state->pending_data_fin.clear();
  dirty_ = true;
}

void MptcpStack::PumpFallback(Conn& c) {
  HandOver(c);
  const SocketId id = c.state->socket;
  TcpConnection* t = stack_.connection(id);
  if (t == nullptr) return;
  if (t->error() != TcpError::kOk || t->state() == TcpState::kClosed) c.fallback_tx.clear();  // nowhere to go
  while (c.fallback_tx_pending()) {
    const IoResult r = stack_.Send(id, std::span(c.fallback_tx).subspan(c.fallback_tx_off));
    if (r.bytes == 0) break;
    c.fallback_tx_off += r.bytes;
  }
  if (c.fallback_tx_pending()) return;
  c.fallback_tx.clear();
  c.fallback_tx_off = 0;
  if (c.app_shutdown && !c.tcp_shutdown) {
    c.tcp_shutdown = true;
    stack_.Shutdown(id);
  }
  if (c.app_closed && !c.tcp_closed) {
    c.tcp_closed = true;
    stack_.Close(id);
  }
}

bool MptcpStack::OnChecksumFailure(Conn& c, SubflowId sf, SocketId sid, std::uint64_t dsn) {
  MptcpConnState& st = *c.state;
  Msk& m = *st.msk;
  TcpConnection* t = stack_.connection(sid);
  st.Count(IntegrityCounter::kDataCsumErr);
  if (st.fallback_allowed(sf) && c.subflows.size() == 1) {
    if (!m.valid_checksum_seen(sf)) {
      // RFC 8684 3.7: the very first mapping failed: whatever changes the payload did so from the
      // start. Plain TCP from the failed mapping on, without MP_FAIL (Linux's early fallback); its
      // bytes are still in the subflow, the application reads them next.
      st.Count(IntegrityCounter::kCsumFallback);
      st.fallback = true;
      return true;
    }
    // RFC 8684 3.7, one subflow: MP_FAIL with the mapping's DSN; the peer answers with the infinite
    // mapping and both are plain TCP. The bytes are taken meanwhile, as Linux does (they passed the
    // TCP checksum; the stream they belong to becomes the TCP stream).
    st.mp_fail_owed[sf] = dsn;
    st.mp_fail_sent = true;
    if (t != nullptr) t->RequestAck();
    m.AcceptFailedMapping(sf);
    return true;
  }
  // Several subflows: this one goes, with MP_FAIL and MP_TCPRST "middlebox interference" on its RST
  // (Linux: MPTCP_RST_EMIDDLEBOX). Its bytes are dropped unacknowledged at the data level, so the
  // peer sends them again on another subflow; ours not yet DATA_ACKed are reinjected likewise.
  st.Count(IntegrityCounter::kCsumReset);
  st.mp_fail_owed[sf] = dsn;
  st.rst_reason[sf] = kRstMiddleboxInterference;
  m.SubflowFailed(sf);
  if (t != nullptr) t->Abort();
  return false;
}

void MptcpStack::Pump(Instant now, Conn& c) {
  if (c.state->fastclosed && c.error == TcpError::kOk) ResetAll(c);
  if (c.error != TcpError::kOk) return;
  if (c.state->fallback && c.state->msk) {
    PumpFallback(c);
    return;
  }
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
    Sub& info = c.info[sf];
    if (t == nullptr || dss == nullptr || t->error() != TcpError::kOk || t->state() == TcpState::kClosed) {
      // Gone before the end: what it carried and the peer did not DATA_ACK goes on the others.
      if (m.HasSubflow(sf)) m.SubflowFailed(sf);
      if (sf == DssHook::kInitialSubflow) {
        ++it;  // the socket's own subflow stays listed: its status is the connection's error
      } else {
        if (c.pm && info.pm_known) {
          c.pm->OnSubflowClosed(now, sf);
        } else if (c.pm && info.active_join) {
          path_counters_.Inc(PathCounter::kMpJoinFailed);
          c.pm->OnSubflowCreateFailed(now, info.pm_local, info.remote_id);
        }
        if (t != nullptr) stack_.Close(it->second);
        c.state->signals_out.erase(sf);
        c.info.erase(sf);
        it = c.subflows.erase(it);
      }
      continue;
    }
    auto* join = dynamic_cast<JoinHook*>(t->option_hook());
    const bool joined = join == nullptr || join->joined();
    // RFC 8684 3.2: the third ACK must arrive; until the peer confirms it (its fourth ACK) it is
    // repeated with the subflow's RTO, doubling (Linux retransmits it the same way).
    if (join != nullptr && join->active() && !joined && t->state() == TcpState::kEstablished) {
      const Duration rto = t->rtt().rto();
      if (!info.third_ack_at) {
        info.third_ack_at = now + rto;
      } else if (now >= *info.third_ack_at) {
        t->RequestAck();
        ++info.third_ack_repeats;
        std::int64_t d = rto.micros;
        for (int i = 0; i < info.third_ack_repeats && d < Duration::Millis(60000).micros; ++i) d *= 2;
        info.third_ack_at = now + Duration{d};
      }
    } else {
      info.third_ack_at.reset();
    }
    // The B flag of the peer's SYN/ACK (Linux sets it for a join to a `backup` endpoint); later
    // changes come as MP_PRIO.
    if (joined && join != nullptr && join->active() && !info.synack_backup_taken) {
      info.remote_backup = join->backup();
      info.synack_backup_taken = true;
    }
    if (joined && join != nullptr && c.pm && !info.pm_known) {
      c.pm->OnSubflowEstablished(now, sf, info.pm_local, info.remote_id, info.local_backup);
      info.pm_known = true;
    }
    // Stale (Linux mptcp_subflow_set_stale): RTO after RTO without progress; what it holds goes
    // on the others. Progress (an ACK moving SND.UNA resets the count) makes it usable again.
    const int rtos = t->consecutive_timeouts();
    if (!info.stale && cfg_.stale_loss_cnt > 0 && rtos >= cfg_.stale_loss_cnt && m.HasSubflow(sf)) {
      info.stale = true;
      m.SubflowStale(sf);
      path_counters_.Inc(PathCounter::kSubflowStale);
    } else if (info.stale && rtos == 0) {
      info.stale = false;
      path_counters_.Inc(PathCounter::kSubflowRecover);
    }
    // On a path taken down, the socket's own subflow stays open but carries nothing.
    const bool up = PathUp(info.local_id);
    if (!up && !info.path_down_reinjected && m.HasSubflow(sf)) m.SubflowStale(sf);
    info.path_down_reinjected = !up;
    const auto feed = [&] {
      for (;;) {
        const auto view = t->RecvPeek();
        const std::size_t room = std::min<std::size_t>(view.size(), m.receive_window());
        if (room == 0) break;
        // The wrapped rest of the subflow's buffer, for a checksum over a mapping that reaches into it.
        const auto more = room == view.size() ? t->RecvPeekWrapped() : std::span<const std::uint8_t>{};
        const std::size_t n = m.OnSubflowData(sf, view.first(room), more);
        if (n == 0) break;
        t->RecvConsume(n);
        info.bytes_received += n;
      }
    };
    feed();
    if (const auto bad = m.checksum_failure(sf)) {
      if (!OnChecksumFailure(c, sf, it->second, *bad)) {
        ++it;  // reset: the next poll finds it gone and tells the path manager
        continue;
      }
      if (c.state->fallback) {
        PumpFallback(c);
        return;
      }
      feed();
    }
    // New mappings only into a send buffer with room for a large one (a segment never straddles
    // two mappings, so small mappings would mean small segments).
    const bool can_send = m.HasSubflow(sf) && joined && !info.stale && up &&
                          (t->state() == TcpState::kEstablished || t->state() == TcpState::kCloseWait);
    SubflowParams p;
    p.established = can_send;
    p.backup = info.local_backup || info.remote_backup;
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
  if (c.state->fallback) {  // an infinite mapping arrived on this poll's input
    PumpFallback(c);
    return;
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
    if (auto in = c.info.find(x.subflow); in != c.info.end()) in->second.bytes_sent += r.bytes;
    if (r.bytes != x.data.size()) {
      // The mapping's bytes must follow each other in the subflow: a short write breaks it.
      t->Abort();
      m.SubflowFailed(x.subflow);
    }
  }

  ManagePaths(now, c);
  // Signals ride on a segment without payload (RequestBareAck: even while data flows).
  for (auto q = c.state->signals_out.begin(); q != c.state->signals_out.end();) {
    const auto sit = c.subflows.find(q->first);
    TcpConnection* t = sit == c.subflows.end() ? nullptr : stack_.connection(sit->second);
    const TcpState ts = t == nullptr ? TcpState::kClosed : t->state();
    const bool can_ack = ts == TcpState::kEstablished || ts == TcpState::kCloseWait ||
                         ts == TcpState::kFinWait1 || ts == TcpState::kFinWait2;
    if (!can_ack || q->second.empty()) {
      q = c.state->signals_out.erase(q);
      continue;
    }
    t->RequestBareAck();
    ++q;
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
    stack_.tcp().SetOptionHookFactory(
        r.id, [this](const FourTuple& tuple, const TcpRepr& syn) { return ListenerHook(tuple, syn); });
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
  c.active = true;
  c.subflows.emplace(DssHook::kInitialSubflow, r.id);
  c.info[DssHook::kInitialSubflow];
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
  c.info[DssHook::kInitialSubflow];
  conns_.emplace(id, std::move(c));
  dirty_ = true;
  return id;
}

IoResult MptcpStack::Send(SocketId id, std::span<const std::uint8_t> data) {
  Conn* c = Find(id);
  if (c == nullptr) return {0, TcpError::kNotConnected};
  if (c->error != TcpError::kOk) return {0, c->error};
  if (c->state->fallback) {
    HandOver(*c);
    if (!c->fallback_tx_pending()) return stack_.Send(id, data);
    // Behind the bytes the Msk still had: in order, within the Msk's send buffer size.
    const std::size_t queued = c->fallback_tx.size() - c->fallback_tx_off;
    const std::size_t n = std::min(data.size(), c->state->msk_config.send_buffer - std::min(queued, c->state->msk_config.send_buffer));
    if (n == 0 && !data.empty()) return {0, TcpError::kWouldBlock};
    c->fallback_tx.insert(c->fallback_tx.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    dirty_ = true;
    return {n, TcpError::kOk};
  }
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
  if (c->error != TcpError::kOk) return c->error;
  if (c->state->fallback) {
    HandOver(*c);
    if (!c->fallback_tx_pending()) return stack_.SendBuffer(id, buffer);
    if (!buffer) return TcpError::kInvalidArgument;
    const IoResult r = Send(id, buffer->bytes());
    if (r.bytes != buffer->bytes().size()) return TcpError::kWouldBlock;  // Send took none (it takes all or none here)
    buffer.reset();
    return TcpError::kOk;
  }
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
  if (c->error != TcpError::kOk) return {0, c->error};
  if (!ReadsMsk(*c)) return c->state->fallback ? stack_.Recv(id, out) : IoResult{0, TcpError::kWouldBlock};
  Msk* m = c->state->msk.get();
  if (m->readable() == 0 && !m->eof()) return {0, TcpError::kWouldBlock};
  const std::size_t n = m->Recv(out);
  dirty_ = true;
  return {n, TcpError::kOk};
}

std::span<const std::uint8_t> MptcpStack::RecvPeek(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr || c->error != TcpError::kOk) return {};
  if (!ReadsMsk(*c)) return c->state->fallback ? stack_.RecvPeek(id) : std::span<const std::uint8_t>{};
  return c->state->msk->RecvPeek();
}

void MptcpStack::RecvConsume(SocketId id, std::size_t n) {
  Conn* c = Find(id);
  if (c == nullptr || c->error != TcpError::kOk) return;
  if (!ReadsMsk(*c)) {
    if (c->state->fallback) stack_.RecvConsume(id, n);
    return;
  }
  c->state->msk->RecvConsume(n);
  dirty_ = true;  // room for what waits in the subflows
}

TcpError MptcpStack::Shutdown(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return TcpError::kNotConnected;
  if (c->error != TcpError::kOk) return c->error;
  if (c->state->fallback) {
    HandOver(*c);
    if (!c->state->msk || (!c->fallback_tx_pending() && !c->app_shutdown)) {
      c->tcp_shutdown = true;
      return stack_.Shutdown(id);
    }
  }
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
  if (c->error != TcpError::kOk) {
    if (stack_.connection(id) != nullptr) stack_.Close(id);
    return TcpError::kOk;
  }
  if (c->state->fallback) {
    HandOver(*c);
    if (!c->fallback_tx_pending()) {
      c->tcp_closed = true;
      return stack_.Close(id);
    }
  }
  if (!c->state->msk) return stack_.Close(id);
  c->app_shutdown = true;
  dirty_ = true;
  return TcpError::kOk;
}

TcpError MptcpStack::Abort(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return TcpError::kNotConnected;
  c->app_closed = true;
  // RFC 8684 3.5, as Linux's mptcp_do_fastclose: a RST carrying MP_FASTCLOSE (the peer's key) on
  // every subflow ends the whole connection at once (DssSubflow::ResetOut adds it).
  if (UsesMsk(*c)) c->state->fastclose = true;
  for (const auto& [sf, sid] : c->subflows) {
    if (sid != id && stack_.connection(sid) != nullptr) stack_.Abort(sid);
  }
  return stack_.Abort(id);
}

SocketStatus MptcpStack::Status(SocketId id) {
  Conn* c = Find(id);
  if (c == nullptr) return {};
  if (c->error != TcpError::kOk) {
    SocketStatus st = stack_.Status(id);
    st.exists = true;
    st.connected = true;
    st.error = c->error;
    st.closed = true;
    return st;
  }
  if (c->state->fallback) {
    SocketStatus st = stack_.Status(id);
    if (c->state->msk && c->state->msk->readable() > 0) st.eof = false;
    return st;
  }
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

std::optional<std::uint8_t> MptcpStack::peer_reset_reason(SocketId id) const {
  const Conn* c = Find(id);
  return c == nullptr ? std::nullopt : c->state->peer_rst_reason;
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

// ---- paths

const char* PathCounterName(PathCounter c) {
  switch (c) {
#define BRAID_MPTCP_PATH_NAME(name, help) \
  case PathCounter::k##name:              \
    return #name;
    BRAID_MPTCP_PATH_COUNTERS(BRAID_MPTCP_PATH_NAME)
#undef BRAID_MPTCP_PATH_NAME
    default:
      return "?";
  }
}

const char* PathCounterHelp(PathCounter c) {
  switch (c) {
#define BRAID_MPTCP_PATH_HELP(name, help) \
  case PathCounter::k##name:              \
    return help;
    BRAID_MPTCP_PATH_COUNTERS(BRAID_MPTCP_PATH_HELP)
#undef BRAID_MPTCP_PATH_HELP
    default:
      return "?";
  }
}

PathOptions MptcpStack::PathAt(std::size_t iface) const {
  return iface < cfg_.paths.size() ? cfg_.paths[iface] : PathOptions{};
}

std::optional<IpAddress> MptcpStack::IfaceAddress(std::size_t iface, bool v4) const {
  if (iface >= stack_.interface_count()) return std::nullopt;
  const InterfaceConfig& cfg = stack_.iface_config(iface);
  if (v4) return cfg.ipv4 ? std::optional(cfg.ipv4->addr) : std::nullopt;
  return cfg.ipv6 ? std::optional(cfg.ipv6->addr) : std::nullopt;
}

void MptcpStack::StartPm(Instant now, Conn& c) {
  TcpConnection* first = stack_.connection(c.subflows.at(DssHook::kInitialSubflow));
  if (first == nullptr) return;
  // The client waits until the server confirmed MP_CAPABLE (Linux: fully established), or its
  // joins would find no connection behind the token.
  if (auto* h = dynamic_cast<DssHook*>(first->option_hook()); h == nullptr || h->state() != SubflowHook::State::kEstablished) {
    return;
  }
  const bool v4 = first->tuple().local.addr.is_v4();
  std::vector<LocalPath> paths;
  for (std::size_t i = 0; i < stack_.interface_count(); ++i) {
    const auto addr = IfaceAddress(i, v4);
    if (!addr) continue;
    const PathOptions o = PathAt(i);
    paths.push_back(LocalPath{.id = static_cast<std::uint8_t>(i),
                              .addr = Endpoint{*addr, 0},
                              .backup = o.backup,
                              .signal = o.signal,
                              .subflow = o.subflow,
                              .up = PathUp(i)});
  }
  const auto first_local = static_cast<std::uint8_t>(stack_.InterfaceOf(first->tuple().local.addr).value_or(0));
  Sub& info = c.info[DssHook::kInitialSubflow];
  info.local_id = first_local;
  info.pm_local = first_local;
  info.local_backup = PathAt(first_local).backup;
  info.pm_known = true;
  c.pm = std::make_unique<PathManager>(cfg_.pm, std::move(paths), c.active);
  c.pm->OnEstablished(now, DssHook::kInitialSubflow, first_local, first->tuple().remote);
}

void MptcpStack::ManagePaths(Instant now, Conn& c) {
  if (!c.pm) StartPm(now, c);
  if (!c.pm) return;
  for (const auto& in : std::exchange(c.state->signals_in, {})) OnSignal(now, c, in);
  c.pm->Tick(now);
  for (const PmAction& a : c.pm->TakeActions()) CarryOut(now, c, a);
}

void MptcpStack::OnSignal(Instant now, Conn& c, const MptcpConnState::SignalIn& in) {
  MptcpConnState& st = *c.state;
  if (const auto* a = std::get_if<AddAddr>(&in.option)) {
    if (a->echo) {
      path_counters_.Inc(PathCounter::kEchoAdd);
      c.pm->OnAddAddrEcho(a->address_id);
      return;
    }
    // RFC 8684 3.4.1: the HMAC proves the sender holds both keys; a wrong one is dropped (Linux
    // MPTCP_MIB_ADDADDRDROP).
    const std::uint64_t want = AddAddrHmac(st.remote_key->key, st.local_key->key, a->address_id, a->address, a->port);
    if (want != a->hmac) {
      path_counters_.Inc(PathCounter::kAddAddrDrop);
      return;
    }
    path_counters_.Inc(PathCounter::kAddAddr);
    TcpConnection* first = stack_.connection(c.subflows.at(DssHook::kInitialSubflow));
    if (first == nullptr || first->tuple().remote.addr.is_v4() != a->address.is_v4()) return;  // other family
    // Without a port the address takes the port of the initial subflow (RFC 8684 3.4.1).
    c.pm->OnAddAddr(now, RemoteAddr{a->address_id, Endpoint{a->address, a->port.value_or(first->tuple().remote.port)}});
    return;
  }
  if (const auto* r = std::get_if<RemoveAddr>(&in.option)) {
    path_counters_.Inc(PathCounter::kRmAddr);
    for (std::uint8_t i = 0; i < r->count; ++i) {
      const std::uint8_t id = r->ids[i];
      c.pm->OnRemoveAddr(now, id);
      std::vector<SubflowId> gone;
      for (const auto& [sf, info] : c.info) {
        if (sf != DssHook::kInitialSubflow && info.remote_id == id && c.subflows.count(sf) != 0) gone.push_back(sf);
      }
      for (SubflowId sf : gone) {
        CloseSubflow(now, c, sf);
        path_counters_.Inc(PathCounter::kRmSubflow);
      }
    }
    for (const PmAction& a : c.pm->TakeActions()) CarryOut(now, c, a);
    return;
  }
  if (const auto* p = std::get_if<MpPrio>(&in.option)) {
    // RFC 8684 3.3.8: MP_PRIO applies to the subflow it arrives on.
    path_counters_.Inc(PathCounter::kMpPrioRx);
    if (auto it = c.info.find(in.subflow); it != c.info.end()) it->second.remote_backup = p->backup;
  }
}

std::optional<SubflowId> MptcpStack::Carrier(const Conn& c, int avoid_local) const {
  for (const auto& [sf, sid] : c.subflows) {
    TcpConnection* t = stack_.connection(sid);
    if (t == nullptr || (t->state() != TcpState::kEstablished && t->state() != TcpState::kCloseWait)) continue;
    auto* join = dynamic_cast<JoinHook*>(t->option_hook());
    if (join != nullptr && !join->joined()) continue;
    auto in = c.info.find(sf);
    if (in == c.info.end() || in->second.stale || !PathUp(in->second.local_id)) continue;
    if (avoid_local >= 0 && in->second.local_id == avoid_local) continue;
    return sf;
  }
  return std::nullopt;
}

void MptcpStack::QueueSignal(Conn& c, SubflowId sf, Option o) { c.state->signals_out[sf].push_back(std::move(o)); }

void MptcpStack::CarryOut(Instant now, Conn& c, const PmAction& a) {
  MptcpConnState& st = *c.state;
  switch (a.kind) {
    case PmActionKind::kAnnounce: {
      const auto sf = Carrier(c);
      if (!sf) return;  // announced again when the path manager repeats it
      AddAddr o;
      o.address_id = a.local_id;
      o.address = a.local.addr;
      o.hmac = AddAddrHmac(st.local_key->key, st.remote_key->key, o.address_id, o.address, std::nullopt);
      QueueSignal(c, *sf, o);
      path_counters_.Inc(PathCounter::kAddAddrTx);
      return;
    }
    case PmActionKind::kEchoAddAddr: {
      const auto sf = Carrier(c);
      if (!sf) return;
      AddAddr o;
      o.echo = true;
      o.address_id = a.remote_id;
      o.address = a.remote.addr;
      TcpConnection* first = stack_.connection(c.subflows.at(DssHook::kInitialSubflow));
      if (first != nullptr && a.remote.port != first->tuple().remote.port) o.port = a.remote.port;
      QueueSignal(c, *sf, o);
      path_counters_.Inc(PathCounter::kEchoAddTx);
      return;
    }
    case PmActionKind::kRemoveAddr: {
      const auto sf = Carrier(c, a.local_id);
      if (!sf) return;
      RemoveAddr o;
      o.ids[0] = a.local_id;
      o.count = 1;
      QueueSignal(c, *sf, o);
      path_counters_.Inc(PathCounter::kRmAddrTx);
      return;
    }
    case PmActionKind::kCreateSubflow:
      OpenJoin(now, c, a);
      return;
    case PmActionKind::kCloseSubflow:
      CloseSubflow(now, c, a.subflow);
      return;
    case PmActionKind::kSetPrio: {
      auto it = c.info.find(a.subflow);
      if (it == c.info.end() || it->second.local_backup == a.backup) return;
      it->second.local_backup = a.backup;
      QueueSignal(c, a.subflow, MpPrio{a.backup});
      path_counters_.Inc(PathCounter::kMpPrioTx);
      return;
    }
  }
}

void MptcpStack::OpenJoin(Instant now, Conn& c, const PmAction& a) {
  const bool v4 = a.remote.addr.is_v4();
  std::size_t iface = a.local_id;
  // Towards an announced address: from the interface on its subnet when that one is up (Linux
  // leaves the source address to the routing table).
  if (a.remote_id != 0) {
    for (std::size_t i = 0; i < stack_.interface_count(); ++i) {
      const InterfaceConfig& cfg = stack_.iface_config(i);
      const auto& cidr = v4 ? cfg.ipv4 : cfg.ipv6;
      if (cidr && cidr->Contains(a.remote.addr) && PathUp(i)) {
        iface = i;
        break;
      }
    }
  }
  const auto local = IfaceAddress(iface, v4);
  OpenResult r{kNoSocket, TcpError::kInvalidArgument};
  if (local && PathUp(iface)) r = stack_.ConnectFrom(now, *local, a.remote);
  if (!r.ok()) {
    path_counters_.Inc(PathCounter::kMpJoinSynTxConnectErr);
    c.pm->OnSubflowCreateFailed(now, a.local_id, a.remote_id);
    return;
  }
  const SubflowId sf = c.state->next_subflow++;
  const bool backup = PathAt(iface).backup;
  stack_.connection(r.id)->set_option_hook(std::make_unique<JoinHook>(
      c.state, sf, join_counters_, JoinHook::Active{.local_id = static_cast<std::uint8_t>(iface), .backup = backup}));
  c.subflows.emplace(sf, r.id);
  Sub& info = c.info[sf];
  info.local_id = static_cast<std::uint8_t>(iface);
  info.pm_local = a.local_id;
  info.remote_id = a.remote_id;
  info.active_join = true;
  info.local_backup = backup;
  path_counters_.Inc(PathCounter::kMpJoinSynTx);
}

void MptcpStack::CloseSubflow(Instant now, Conn& c, SubflowId sf) {
  if (sf == DssHook::kInitialSubflow) return;  // the socket itself: it stays (see SetPathUp)
  auto it = c.subflows.find(sf);
  if (it == c.subflows.end()) return;
  const Sub info = c.info[sf];
  if (c.state->msk && c.state->msk->HasSubflow(sf)) c.state->msk->RemoveSubflow(sf);
  if (stack_.connection(it->second) != nullptr) {
    stack_.Abort(it->second);
    stack_.Close(it->second);
  }
  if (c.pm && info.pm_known) {
    c.pm->OnSubflowClosed(now, sf);
  } else if (c.pm && info.active_join) {
    c.pm->OnSubflowCreateFailed(now, info.pm_local, info.remote_id);
  }
  c.state->signals_out.erase(sf);
  c.state->pending_data_fin.erase(sf);
  c.info.erase(sf);
  c.subflows.erase(it);
  dirty_ = true;
}

void MptcpStack::SetPathBackup(Instant now, std::size_t iface, bool backup) {
  if (cfg_.paths.size() <= iface) cfg_.paths.resize(iface + 1);
  cfg_.paths[iface].backup = backup;
  for (auto& [id, c] : conns_) {
    if (!c.pm || c.subflows_closed) continue;
    c.pm->SetBackup(now, static_cast<std::uint8_t>(iface), backup);
    for (const PmAction& a : c.pm->TakeActions()) CarryOut(now, c, a);
    // Subflows the path manager files under another path (a join routed to this interface).
    for (auto& [sf, info] : c.info) {
      if (info.local_id != iface || info.local_backup == backup || c.subflows.count(sf) == 0) continue;
      info.local_backup = backup;
      QueueSignal(c, sf, MpPrio{backup});
      path_counters_.Inc(PathCounter::kMpPrioTx);
    }
  }
  dirty_ = true;
}

void MptcpStack::SetPathUp(Instant now, std::size_t iface, bool up) {
  if (path_up_.size() <= iface) path_up_.resize(iface + 1, true);
  if (path_up_[iface] == up) return;
  path_up_[iface] = up;
  for (auto& [id, c] : conns_) {
    if (!c.pm || c.subflows_closed) continue;
    const bool had = std::any_of(c.info.begin(), c.info.end(), [&](const auto& kv) { return kv.second.local_id == iface; });
    bool removed = false;
    c.pm->OnPathChange(now, static_cast<std::uint8_t>(iface), up);
    for (const PmAction& a : c.pm->TakeActions()) {
      removed = removed || a.kind == PmActionKind::kRemoveAddr;
      CarryOut(now, c, a);
    }
    if (up) continue;
    std::vector<SubflowId> gone;
    for (const auto& [sf, info] : c.info) {
      if (info.local_id == iface && sf != DssHook::kInitialSubflow) gone.push_back(sf);
    }
    for (SubflowId sf : gone) CloseSubflow(now, c, sf);
    // The peer learns it too, also for an address never announced (as Linux does for an endpoint
    // with subflows).
    if (had && !removed) {
      CarryOut(now, c, PmAction{.kind = PmActionKind::kRemoveAddr, .local_id = static_cast<std::uint8_t>(iface)});
    }
  }
  dirty_ = true;
}

bool MptcpStack::SetScheduler(SocketId id, SchedulerKind kind) {
  Conn* c = Find(id);
  if (c == nullptr || c->state->fallback || !cfg_.enabled) return false;
  c->state->msk_config.scheduler = kind;
  if (c->state->msk) c->state->msk->SetScheduler(MakeScheduler(kind));
  dirty_ = true;
  return true;
}

std::vector<SubflowInfo> MptcpStack::subflows(SocketId id) const {
  std::vector<SubflowInfo> v;
  const Conn* c = Find(id);
  if (c == nullptr) return v;
  for (const auto& [sf, sid] : c->subflows) {
    TcpConnection* t = stack_.connection(sid);
    auto in = c->info.find(sf);
    const Sub info = in == c->info.end() ? Sub{} : in->second;
    SubflowInfo s;
    s.id = sf;
    if (t != nullptr) {
      s.local = t->tuple().local;
      s.remote = t->tuple().remote;
    }
    s.local_id = info.local_id;
    s.remote_id = info.remote_id;
    s.backup = info.local_backup || info.remote_backup;
    const auto* join = t ? dynamic_cast<JoinHook*>(t->option_hook()) : nullptr;
    s.established = t != nullptr && UsesMsk(*c) && c->state->msk->HasSubflow(sf) &&
                    (join == nullptr || join->joined()) && !info.stale && PathUp(info.local_id) &&
                    (t->state() == TcpState::kEstablished || t->state() == TcpState::kCloseWait);
    s.bytes_sent = info.bytes_sent;
    s.bytes_received = info.bytes_received;
    v.push_back(s);
  }
  return v;
}

const PmCounters* MptcpStack::pm_counters(SocketId id) const {
  const Conn* c = Find(id);
  return c != nullptr && c->pm ? &c->pm->counters() : nullptr;
}

}  // namespace braid::ustack::mptcp
