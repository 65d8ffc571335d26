#include "ustack/tcp/tcp_table.h"

#include <algorithm>
#include <limits>

#include "ustack/tcp/seq.h"

namespace braid::ustack {

std::size_t FourTupleHash::operator()(const FourTuple& t) const {
  // FNV-1a over both endpoints: cheap, and the table is per lcore (RSS already spread the flows).
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (const Endpoint* e : {&t.local, &t.remote}) {
    for (std::uint8_t b : e->addr.bytes) mix(b);
    mix(static_cast<std::uint8_t>(e->port >> 8));
    mix(static_cast<std::uint8_t>(e->port));
  }
  return static_cast<std::size_t>(h);
}

TcpTable::TcpTable(TcpConfig config, IsnGenerator isn)
    : ctx_(std::make_unique<TcpContext>(std::move(config), std::move(isn))) {
  ctx_->wake = [this](SocketId id) { MarkDirty(id); };
}

SocketId TcpTable::FindListener(const Endpoint& local) const {
  auto it = listen_by_endpoint_.find(local);
  if (it != listen_by_endpoint_.end()) return it->second;
  it = listen_by_endpoint_.find(Endpoint{IpAddress{}, local.port});
  return it != listen_by_endpoint_.end() ? it->second : kNoSocket;
}

void TcpTable::Process(Instant now, const FourTuple& tuple, const TcpRepr& seg) {
  ctx_->counters.Inc(TcpCounter::kInSegs);
  auto found = by_tuple_.find(tuple);
  if (found != by_tuple_.end()) {
    SocketId id = found->second;
    TcpConnection& c = *conns_.at(id).conn;
    bool fresh_syn = seg.has(kTcpSyn) && !seg.has(kTcpAck) && !seg.has(kTcpRst);
    // RFC 6191 / RFC 9293 3.10.7.4 note: a new SYN above the old sequence space may reuse a
    // TIME-WAIT four-tuple when a listener wants it (Linux tcp_timewait_state_process).
    if (c.state() == TcpState::kTimeWait && fresh_syn && FindListener(tuple.local) != kNoSocket &&
        SeqGt(seg.seq, c.rcv_nxt())) {
      ctx_->counters.Inc(TcpCounter::kTimeWaitRecycled);
      Remove(id);
    } else {
      c.Process(now, seg);
      MarkDirty(id);
      Settle(id);
      return;
    }
  }
  SocketId lid = FindListener(tuple.local);
  if (lid != kNoSocket) {
    ListenerInput(now, lid, tuple, seg);
    return;
  }
  ctx_->counters.Inc(TcpCounter::kNoSocket);
  ReplyRst(tuple, seg);
}

void TcpTable::ListenerInput(Instant now, SocketId lid, const FourTuple& tuple, const TcpRepr& seg) {
  // RFC 9293 3.10.7.2, LISTEN.
  if (seg.has(kTcpRst)) return;
  if (seg.has(kTcpAck)) {
    ctx_->counters.Inc(TcpCounter::kNoSocket);
    ReplyRst(tuple, seg);
    return;
  }
  if (!seg.has(kTcpSyn)) {
    ctx_->counters.Inc(TcpCounter::kListenDrops);
    return;
  }
  Listener& l = listeners_.at(lid);
  if (l.half_open + l.queue.size() >= l.backlog) {
    ctx_->counters.Inc(TcpCounter::kListenOverflows);
    return;
  }
  SocketId id = next_id_++;
  std::unique_ptr<TcpOptionHook> hook = l.hook_factory ? l.hook_factory(tuple, seg) : nullptr;
  std::unique_ptr<TcpConnection> conn = TcpConnection::Accept(*ctx_, id, tuple, seg, now, std::move(hook));
  if (conn->state() == TcpState::kClosed) {  // the hook refused the SYN
    ReplyRst(tuple, seg, conn->option_hook());
    return;
  }
  SocketId got = Insert(std::move(conn));
  Entry& e = conns_.at(got);
  e.listener = lid;
  ++l.half_open;
  MarkDirty(got);
}

void TcpTable::ReplyRst(const FourTuple& tuple, const TcpRepr& seg, TcpOptionHook* hook) {
  // RFC 9293 3.10.7.1: never answer a RST; otherwise make the RST acceptable to the sender.
  if (seg.has(kTcpRst)) return;
  TcpRepr rst;
  rst.src_port = tuple.local.port;
  rst.dst_port = tuple.remote.port;
  if (seg.has(kTcpAck)) {
    rst.seq = seg.ack;
    rst.flags = kTcpRst;
  } else {
    rst.seq = 0;
    rst.ack = seg.seq + seg.segment_length();
    rst.flags = kTcpRst | kTcpAck;
  }
  Reply& r = replies_.emplace_back(Reply{tuple, rst, {}, {}});
  if (hook == nullptr) return;
  hook->OnResetOut(r.rst);
  std::size_t used = 0;
  for (std::uint8_t i = 0; i < r.rst.mptcp_count; ++i) {
    const auto opt = r.rst.mptcp[i];
    if (used + opt.size() > r.option_bytes.size()) {
      r.rst.mptcp_count = i;
      break;
    }
    std::copy(opt.begin(), opt.end(), r.option_bytes.begin() + static_cast<std::ptrdiff_t>(used));
    r.option_lens[i] = static_cast<std::uint8_t>(opt.size());
    used += opt.size();
  }
}

SocketId TcpTable::Insert(std::unique_ptr<TcpConnection> conn) {
  SocketId id = conn->id();
  by_tuple_[conn->tuple()] = id;
  Entry e;
  e.conn = std::move(conn);
  conns_.emplace(id, std::move(e));
  return id;
}

void TcpTable::MarkDirty(SocketId id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.dirty) return;
  it->second.dirty = true;
  dirty_.push_back(id);
}

void TcpTable::Settle(SocketId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  TcpConnection& c = *e.conn;
  TcpState s = c.state();
  if (e.listener != kNoSocket && !e.queued && s != TcpState::kSynReceived && s != TcpState::kClosed) {
    auto l = listeners_.find(e.listener);
    if (l == listeners_.end()) {
      c.Abort();
    } else {
      --l->second.half_open;
      l->second.queue.push_back(id);
      e.queued = true;
      if (l->second.queue.size() == 1) events_.emplace_back(e.listener, kTcpAcceptable);
    }
  }
  if (c.state() == TcpState::kClosed && !c.wants_dispatch() && (c.app_closed() || !e.handed)) {
    Remove(id);
    return;
  }
  if (e.handed) {
    std::uint32_t r = c.readiness();
    if (r != e.last_readiness) {
      e.last_readiness = r;
      events_.emplace_back(id, r);
    }
  }
  if (auto t = c.PollAt()) {
    wheel_.Schedule(id, *t);
  } else {
    wheel_.Cancel(id);
  }
}

void TcpTable::Remove(SocketId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  if (e.listener != kNoSocket) {
    auto l = listeners_.find(e.listener);
    if (l != listeners_.end()) {
      if (e.queued) {
        auto& q = l->second.queue;
        q.erase(std::remove(q.begin(), q.end(), id), q.end());
      } else {
        --l->second.half_open;
      }
    }
  }
  by_tuple_.erase(e.conn->tuple());
  wheel_.Cancel(id);
  conns_.erase(it);
}

bool TcpTable::Dispatch(Instant now, const TcpEmit& emit) {
  wheel_.Expire(now, [this](std::uint32_t id) { MarkDirty(id); });
  while (!replies_.empty()) {
    Reply& r = replies_.front();
    for (std::size_t i = 0, at = 0; i < r.rst.mptcp_count; at += r.option_lens[i], ++i) {
      r.rst.mptcp[i] = std::span<const std::uint8_t>(r.option_bytes.data() + at, r.option_lens[i]);
    }
    if (!emit(r.tuple, r.rst)) return false;
    ctx_->counters.Inc(TcpCounter::kOutSegs);
    ctx_->counters.Inc(TcpCounter::kOutRsts);
    replies_.pop_front();
  }
  std::vector<SocketId> work;
  work.swap(dirty_);
  for (std::size_t i = 0; i < work.size(); ++i) {
    auto it = conns_.find(work[i]);
    if (it == conns_.end()) continue;
    it->second.dirty = false;
    bool ok = it->second.conn->Dispatch(now, emit);
    if (!ok) {
      for (std::size_t j = i; j < work.size(); ++j) MarkDirty(work[j]);
      Settle(work[i]);
      return false;
    }
    Settle(work[i]);
  }
  return true;
}

std::optional<Instant> TcpTable::PollAt() const {
  if (!dirty_.empty() || !replies_.empty()) return Instant{std::numeric_limits<std::int64_t>::min()};
  return wheel_.NextDeadline();
}

OpenResult TcpTable::Listen(const Endpoint& local, int backlog) {
  if (local.port == 0) return {kNoSocket, TcpError::kInvalidArgument};
  if (listen_by_endpoint_.count(local) != 0) return {kNoSocket, TcpError::kAddressInUse};
  SocketId id = next_id_++;
  Listener l;
  l.local = local;
  l.backlog = static_cast<std::size_t>(backlog > 0 ? backlog : ctx_->config.backlog);
  listeners_.emplace(id, std::move(l));
  listen_by_endpoint_[local] = id;
  return {id, TcpError::kOk};
}

bool TcpTable::SetOptionHookFactory(SocketId listener, TcpOptionHookFactory factory) {
  auto l = listeners_.find(listener);
  if (l == listeners_.end()) return false;
  l->second.hook_factory = std::move(factory);
  return true;
}

void TcpTable::CloseListener(SocketId listener) {
  auto l = listeners_.find(listener);
  if (l == listeners_.end()) return;
  std::vector<SocketId> children;
  for (auto& [id, e] : conns_) {
    if (e.listener == listener && !e.handed) children.push_back(id);
  }
  listen_by_endpoint_.erase(l->second.local);
  listeners_.erase(l);
  for (SocketId id : children) {
    Entry& e = conns_.at(id);
    e.listener = kNoSocket;
    e.queued = false;
    e.conn->Abort();  // RST to each child, as Linux does when a listener closes
    MarkDirty(id);
  }
}

OpenResult TcpTable::Connect(Instant now, const IpAddress& local_addr, const Endpoint& remote,
                             std::uint16_t local_port) {
  if (remote.port == 0) return {kNoSocket, TcpError::kInvalidArgument};
  FourTuple tuple{Endpoint{local_addr, local_port}, remote};
  if (local_port == 0) {
    const TcpConfig& cfg = ctx_->config;
    std::uint32_t range = cfg.ephemeral_high >= cfg.ephemeral_low ? cfg.ephemeral_high - cfg.ephemeral_low + 1u : 0u;
    std::uint32_t offset = ctx_->isn.PortOffset(local_addr, remote);
    bool found = false;
    for (std::uint32_t i = 0; i < range; ++i) {
      auto port = static_cast<std::uint16_t>(cfg.ephemeral_low + (offset + ephemeral_next_ + i) % range);
      tuple.local.port = port;
      if (by_tuple_.count(tuple) == 0 && listen_by_endpoint_.count(tuple.local) == 0) {
        ephemeral_next_ += i + 1;  // RFC 6056 3.3.3: the per-table counter moves on
        found = true;
        break;
      }
    }
    if (!found) return {kNoSocket, TcpError::kNoEphemeralPort};
  } else if (by_tuple_.count(tuple) != 0) {
    return {kNoSocket, TcpError::kAddressInUse};
  }
  SocketId id = next_id_++;
  Insert(TcpConnection::Connect(*ctx_, id, tuple, now));
  conns_.at(id).handed = true;
  MarkDirty(id);
  return {id, TcpError::kOk};
}

SocketId TcpTable::Accept(SocketId listener) {
  auto l = listeners_.find(listener);
  if (l == listeners_.end() || l->second.queue.empty()) return kNoSocket;
  SocketId id = l->second.queue.front();
  l->second.queue.pop_front();
  Entry& e = conns_.at(id);
  e.listener = kNoSocket;
  e.queued = false;
  e.handed = true;
  e.last_readiness = 0;
  std::uint32_t r = e.conn->readiness();
  if (r != 0) {
    e.last_readiness = r;
    events_.emplace_back(id, r);
  }
  return id;
}

TcpConnection* TcpTable::Get(SocketId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.conn.get();
}

void TcpTable::DrainEvents(const std::function<void(SocketId, std::uint32_t)>& on_event) {
  std::vector<std::pair<SocketId, std::uint32_t>> events;
  events.swap(events_);
  for (const auto& [id, r] : events) on_event(id, r);
}

}  // namespace braid::ustack
