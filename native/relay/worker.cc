#include "relay/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "kernel/mptcp_sockopt.h"
#include "relay/conn_facts.h"

namespace braid::relay {
namespace {

// SO_ORIGINAL_DST (linux/netfilter_ipv4.h) and IP6T_SO_ORIGINAL_DST (netfilter_ipv6/ip6_tables.h):
// where a connection was going before nftables redirected it to us.
constexpr int kSoOriginalDst = 80;

constexpr int kMaxEvents = 256;
constexpr int kAcceptBatch = 64;
constexpr uint64_t kTickNs = 100'000'000;  // timeouts and subflow polls are checked at 100 ms granularity
constexpr size_t kPumpBudget = 4 * 1024 * 1024;  // bytes per direction before another connection gets a turn
constexpr size_t kIdlePipes = 64;

uint64_t MsToNs(uint64_t ms) { return ms * 1'000'000; }

void SetResetOnClose(int fd) {
  linger lg{1, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void SetNoDelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Whether `addr` is an address of this host: binding a datagram socket to it succeeds only then.
bool IsLocalAddress(const SocketAddress& addr) {
  SocketAddress probe = addr;
  if (probe.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&probe.storage)->sin_port = 0;
  if (probe.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&probe.storage)->sin6_port = 0;
  int fd = socket(probe.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool local = bind(fd, probe.get(), probe.length) == 0;
  close(fd);
  return local;
}

int ProtocolNumber(Protocol p) { return p == Protocol::kMptcp ? kernel::kIpprotoMptcp : IPPROTO_TCP; }

Outcome DetectOutcome(const Connection& c) {
  const ListenerSpec& l = *c.listener;
  const bool network_is_mptcp =
      (l.mode == ListenerMode::kForward ? l.target_protocol : l.listen_protocol) == Protocol::kMptcp;
  if (!network_is_mptcp) return Outcome::kTcp;
  return kernel::IsMptcp(c.network_fd()) == 1 ? Outcome::kMptcp : Outcome::kFallback;
}

}  // namespace

Event Worker::NewEvent(Event::Type type, const Connection& c) const {
  Event e;
  e.type = type;
  e.conn_id = c.id;
  e.listener_id = c.listener->id;
  e.worker = index_;
  return e;
}

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Worker::Worker(uint32_t index, const DataplaneSpec& spec, SharedState& shared, EventQueue& events)
    : index_(index), spec_(spec), shared_(shared), events_(events), pipes_(spec.pipe_size, kIdlePipes) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_tag_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

void Worker::AdoptListener(ListenerRef entry, int fd) {
  auto wl = std::make_unique<WorkerListener>();
  wl->entry = std::move(entry);
  wl->fd = fd;
  wl->tag.listener = wl.get();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wl->tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  listeners_.push_back(std::move(wl));
}

void Worker::CloseListener(uint32_t id) {
  for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
    if ((*it)->entry->spec.id != id) continue;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, (*it)->fd, nullptr);
    close((*it)->fd);
    listeners_.erase(it);
    return;
  }
}

void Worker::AbortConnections(uint32_t listener_id) {
  std::vector<Connection*> doomed;
  for (auto& [id, c] : conns_) {
    if (c->listener->id == listener_id) doomed.push_back(c.get());
  }
  for (Connection* c : doomed) Close(*c, CloseReason::kAborted, 0, true);
}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  running_ = true;
  // Signals belong to Node's main thread; SIGPIPE from splice() must never reach a handler.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { Run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::string name = "braid-w" + std::to_string(index_);
  pthread_setname_np(thread_.native_handle(), name.c_str());
}

bool Worker::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    if (stopping_ || !running_) return false;
    tasks_.push_back(std::move(task));
  }
  uint64_t one = 1;
  (void)write(wake_fd_, &one, sizeof(one));
  return true;
}

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)write(wake_fd_, &one, sizeof(one));
    thread_.join();
  } else {
    CloseListeners();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
}

void Worker::CloseListeners() {
  for (auto& wl : listeners_) {
    if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, wl->fd, nullptr);
    close(wl->fd);
  }
  listeners_.clear();
}

void Worker::RunTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

void Worker::Pin() {
  tid_ = static_cast<int>(gettid());
  if (index_ >= spec_.worker_cpus.size() || spec_.worker_cpus[index_].empty()) return;
  const std::vector<int>& cpus = spec_.worker_cpus[index_];
  const int max_cpu = *std::max_element(cpus.begin(), cpus.end());
  if (*std::min_element(cpus.begin(), cpus.end()) < 0) {
    pin_errno_ = EINVAL;
    return;
  }
  // Sized for the largest CPU asked for: cpu_set_t stops at 1024.
  cpu_set_t* set = CPU_ALLOC(max_cpu + 1);
  if (set == nullptr) {
    pin_errno_ = ENOMEM;
    return;
  }
  const size_t size = CPU_ALLOC_SIZE(max_cpu + 1);
  CPU_ZERO_S(size, set);
  for (int cpu : cpus) CPU_SET_S(cpu, size, set);
  // EINVAL: none of these CPUs is online and allowed. The worker then keeps the affinity it
  // inherited: relaying cross-socket beats not relaying.
  const int rc = pthread_setaffinity_np(pthread_self(), size, set);
  CPU_FREE(set);
  pin_errno_ = rc;
}

void Worker::Run() {
  Pin();
  epoll_event evs[kMaxEvents];
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(tasks_mu_);
      if (stopping_) break;
    }
    const uint64_t now = MonotonicNs();
    int timeout_ms = ready_.empty() ? static_cast<int>((next_tick_ns_ > now ? next_tick_ns_ - now : 0) / 1'000'000) : 0;
    int n = epoll_wait(epoll_fd_, evs, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      auto* tag = static_cast<EpollTag*>(evs[i].data.ptr);
      switch (tag->kind) {
        case EpollTag::Kind::kControl: {
          uint64_t v;
          (void)read(wake_fd_, &v, sizeof(v));
          break;
        }
        case EpollTag::Kind::kListener:
          Accept(*tag->listener);
          break;
        case EpollTag::Kind::kClient:
        case EpollTag::Kind::kUpstream:
          if (!tag->conn->closed) OnConnectionEvent(*tag->conn, tag->kind == EpollTag::Kind::kClient, evs[i].events);
          break;
      }
    }
    std::vector<Connection*> ready;
    ready.swap(ready_);
    for (Connection* c : ready) {
      c->in_ready = false;
      if (!c->closed) Service(*c);
    }
    RunTasks();
    const uint64_t after = MonotonicNs();
    if (after >= next_tick_ns_) {
      Tick(after);
      next_tick_ns_ = after + kTickNs;
    }
    graveyard_.clear();
  }
  // Tasks posted before Stop() still run: a connection handed to us must not vanish unreported.
  RunTasks();
  // Shutting down: whatever is still open is aborted and reported.
  std::vector<Connection*> left;
  for (auto& [id, c] : conns_) left.push_back(c.get());
  for (Connection* c : left) Close(*c, CloseReason::kAborted, 0, true);
  graveyard_.clear();
  CloseListeners();
  running_ = false;
}

void Worker::Accept(WorkerListener& wl) {
  // Hold the entry: closing the listener inside this loop must not free what we read.
  ListenerRef entry = wl.entry;
  const ListenerSpec& l = entry->spec;
  const int lfd = wl.fd;
  for (int i = 0; i < kAcceptBatch; i++) {
    SocketAddress peer;
    peer.length = sizeof(peer.storage);
    int fd = accept4(lfd, peer.get(), &peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: drained. EMFILE/ENFILE/ENOBUFS: the next wake-up retries; nothing else to do here.
      return;
    }
    if (shared_.active.load() >= shared_.max_connections.load(std::memory_order_relaxed)) {
      shared_.refused++;
      SetResetOnClose(fd);  // refuse at once and visibly, rather than leave the client waiting
      close(fd);
      continue;
    }
    shared_.active++;
    shared_.accepted++;
    entry->active++;
    auto owned = std::make_unique<Connection>();
    Connection& c = *owned;
    c.id = shared_.next_conn_id++;
    c.entry = entry;
    c.listener = &l;
    c.client_fd = fd;
    c.client = FormatSocketAddress(peer);
    c.opened_ns = c.last_activity_ns = MonotonicNs();
    if (l.mode == ListenerMode::kForward) {
      c.app_local = LocalAddressOf(fd);
      c.app_remote = c.client;
    }
    conns_.emplace(c.id, std::move(owned));
    {
      std::lock_guard<std::mutex> lock(shared_.owners_mu);
      shared_.owners[c.id] = index_;
    }
    SetNoDelay(fd);
    EmitOpen(c);

    int err = 0;
    if (!ResolveTarget(c, err)) {
      Close(c, CloseReason::kConnectError, err, true);
      continue;
    }
    int ufd = socket(c.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ProtocolNumber(l.target_protocol));
    if (ufd < 0) {
      Close(c, CloseReason::kConnectError, errno, true);
      continue;
    }
    c.upstream_fd = ufd;
    if (spec_.upstream_mark != 0) {
      (void)setsockopt(ufd, SOL_SOCKET, SO_MARK, &spec_.upstream_mark, sizeof(spec_.upstream_mark));
    }
    SetNoDelay(ufd);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c.client_tag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;  // EPOLLOUT: connect completion
    ev.data.ptr = &c.upstream_tag;
    c.upstream_out_armed = true;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ufd, &ev);
    if (connect(ufd, c.target.get(), c.target.length) != 0 && errno != EINPROGRESS) {
      Close(c, CloseReason::kConnectError, errno, true);
      continue;
    }
    // Completion (or failure) arrives as EPOLLOUT/EPOLLERR on the upstream socket.
  }
}

bool Worker::ResolveTarget(Connection& c, int& err) {
  const ListenerSpec& l = *c.listener;
  if (!l.original_destination) {
    c.target = l.target;
  } else {
    SocketAddress local;
    local.length = sizeof(local.storage);
    getsockname(c.client_fd, local.get(), &local.length);
    c.target.length = sizeof(c.target.storage);
    const int level = local.family() == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    if (l.tproxy) {
      c.target = local;  // TPROXY keeps the destination: our socket is bound to it
    } else if (getsockopt(c.client_fd, level, kSoOriginalDst, c.target.get(), &c.target.length) != 0) {
      err = errno;  // ENOENT: not redirected by nftables
      c.upstream.assign(1, '?');  // not = "?": GCC 12 warns falsely (-Wrestrict) on that
      return false;
    }
    // A connection made straight to our port (not redirected) has our own address as its
    // destination: dialling it would loop forever.
    if (l.tproxy ? IsLocalAddress(c.target) : FormatSocketAddress(c.target) == FormatSocketAddress(local)) {
      err = ELOOP;
      c.upstream = FormatSocketAddress(c.target);
      return false;
    }
  }
  c.upstream = FormatSocketAddress(c.target);
  return true;
}

void Worker::OnConnectionEvent(Connection& c, bool client_side, uint32_t events) {
  if (c.state == ConnState::kConnecting) {
    if (!client_side) {
      FinishConnect(c);
    } else if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.client_fd, SOL_SOCKET, SO_ERROR, &err, &len);
      Close(c, CloseReason::kReset, err, true);
    }
    // Client data waits in its socket until the upstream is up.
    return;
  }
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(client_side ? c.client_fd : c.upstream_fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Close(c, CloseReason::kReset, err, true);
      return;
    }
  }
  // Readable: the direction reading this socket; writable: the one writing to it.
  const bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  const bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  if (client_side) {
    Service(c, readable, writable);
  } else {
    Service(c, writable, readable);
  }
}

void Worker::ArmWrite(Connection& c, bool client_side, bool want) {
  bool& armed = client_side ? c.client_out_armed : c.upstream_out_armed;
  if (armed == want) return;
  armed = want;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = client_side ? &c.client_tag : &c.upstream_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, client_side ? c.client_fd : c.upstream_fd, &ev);
}

void Worker::FinishConnect(Connection& c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c.upstream_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    // A spurious wake-up before completion: connected sockets have a peer.
    sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(c.upstream_fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
      if (errno == ENOTCONN) return;
      err = errno;
    }
  }
  if (err != 0) {
    Close(c, CloseReason::kConnectError, err, true);
    return;
  }
  StartRelay(c);
}

void Worker::StartRelay(Connection& c) {
  const uint64_t now = MonotonicNs();
  c.state = ConnState::kRelaying;
  c.outcome = DetectOutcome(c);
  if (c.outcome == Outcome::kMptcp) c.token = ReadMptcpToken(c.network_fd());
  if (c.listener->mode == ListenerMode::kInbound) {
    c.app_local = LocalAddressOf(c.upstream_fd);
    c.app_remote = PeerAddressOf(c.upstream_fd);
  }
  if (c.outcome == Outcome::kFallback && c.listener->fallback == Fallback::kDeny) {
    Close(c, CloseReason::kFallbackDenied, 0, true);
    return;
  }
  c.last_activity_ns = now;
  c.next_subflow_poll_ns = now + MsToNs(spec_.subflow_poll_ms);
  ArmWrite(c, false, false);

  Event e = NewEvent(Event::Type::kEstablished, c);
  e.upstream = c.upstream;
  e.outcome = c.outcome;
  e.connect_us = (now - c.opened_ns) / 1000;
  events_.Push(std::move(e));
  Service(c);
}

void Worker::Service(Connection& c, bool pump_up, bool pump_down) {
  if (c.state == ConnState::kConnecting) return;
  const uint64_t before = c.bytes_moved();
  bool yield = false;
  int err = 0;
  struct Leg {
    bool run;
    Direction& d;
    int src;
    int dst;
    bool dst_is_client;
  } legs[2] = {{pump_up, c.up, c.client_fd, c.upstream_fd, false}, {pump_down, c.down, c.upstream_fd, c.client_fd, true}};
  for (Leg& leg : legs) {
    if (!leg.run) continue;
    const PumpStatus status = Pump(leg.src, leg.dst, leg.d, pipes_, kPumpBudget, err);
    // Bytes left over mean the destination is full: wake up when it drains.
    ArmWrite(c, leg.dst_is_client, status == PumpStatus::kWouldBlock && leg.d.pending > 0);
    switch (status) {
      case PumpStatus::kFailed:
        Close(c, CloseReason::kReset, err, true);
        return;
      case PumpStatus::kYield:
        yield = true;
        break;
      case PumpStatus::kWouldBlock:
      case PumpStatus::kFinished:
        break;
    }
  }
  if (c.bytes_moved() != before) c.last_activity_ns = MonotonicNs();
  if (c.up.finished && c.down.finished) {
    Close(c, CloseReason::kDone, 0, false);
    return;
  }
  if (c.up.finished || c.down.finished) c.state = ConnState::kHalfClosed;
  if (yield && !c.in_ready) {
    c.in_ready = true;
    ready_.push_back(&c);
  }
}

void Worker::Tick(uint64_t now) {
  std::vector<std::pair<Connection*, CloseReason>> expired;
  const uint64_t connect_timeout_ns = MsToNs(shared_.connect_timeout_ms.load(std::memory_order_relaxed));
  const uint64_t idle_timeout_ns = MsToNs(shared_.idle_timeout_ms.load(std::memory_order_relaxed));
  for (auto& [id, owned] : conns_) {
    Connection& c = *owned;
    if (c.state == ConnState::kConnecting) {
      if (now - c.opened_ns >= connect_timeout_ns) expired.emplace_back(&c, CloseReason::kConnectTimeout);
      continue;
    }
    if (idle_timeout_ns != 0 && now - c.last_activity_ns >= idle_timeout_ns) {
      expired.emplace_back(&c, CloseReason::kIdleTimeout);
      continue;
    }
    if (c.outcome == Outcome::kMptcp && now >= c.next_subflow_poll_ns) {
      PollSubflows(c, true);
      c.next_subflow_poll_ns = now + MsToNs(spec_.subflow_poll_ms);
    }
  }
  for (auto& [c, reason] : expired) Close(*c, reason, reason == CloseReason::kConnectTimeout ? ETIMEDOUT : 0, true);
}

void Worker::PollSubflows(Connection& c, bool emit_events) {
  std::vector<kernel::SubflowSample> samples;
  if (!kernel::ReadSubflows(c.network_fd(), samples)) return;
  for (const auto& s : samples) {
    SubflowStat* known = nullptr;
    for (auto& k : c.subflows) {
      if (k.id == s.id && !k.closed) known = &k;
    }
    const bool added = known == nullptr;
    if (added) {
      c.subflows.push_back(SubflowStat{s.id, s.local, s.remote, 0, 0, s.rtt_us, false});
      known = &c.subflows.back();
    }
    // Counters only grow while a subflow lives; attribute the growth to its local address.
    AddressBytes& ab = address_bytes_[s.local_host];
    if (s.bytes_sent > known->bytes_sent) ab.sent += s.bytes_sent - known->bytes_sent;
    if (s.bytes_received > known->bytes_received) ab.received += s.bytes_received - known->bytes_received;
    known->bytes_sent = std::max(known->bytes_sent, s.bytes_sent);
    known->bytes_received = std::max(known->bytes_received, s.bytes_received);
    known->rtt_us = s.rtt_us;
    if (added && emit_events) {
      Event e = NewEvent(Event::Type::kSubflowAdded, c);
      e.subflows.push_back(*known);
      events_.Push(std::move(e));
    }
  }
  for (auto& k : c.subflows) {
    if (k.closed) continue;
    bool present = false;
    for (const auto& s : samples) present = present || s.id == k.id;
    if (present) continue;
    k.closed = true;
    if (emit_events) {
      Event e = NewEvent(Event::Type::kSubflowRemoved, c);
      e.subflows.push_back(k);
      events_.Push(std::move(e));
    }
  }
}

void Worker::Close(Connection& c, CloseReason reason, int err, bool reset) {
  if (c.closed) return;
  c.closed = true;
  if (c.outcome == Outcome::kMptcp) PollSubflows(c, false);
  if (reason == CloseReason::kConnectError || reason == CloseReason::kConnectTimeout) c.outcome = Outcome::kError;
  if (c.client_fd >= 0) {
    if (reset) SetResetOnClose(c.client_fd);
    close(c.client_fd);  // also removes it from the epoll set
  }
  if (c.upstream_fd >= 0) {
    if (reset) SetResetOnClose(c.upstream_fd);
    close(c.upstream_fd);
  }
  if (c.in_ready) {
    std::erase(ready_, &c);  // the graveyard frees `c` before the next round reads ready_
    c.in_ready = false;
  }
  pipes_.Release(c.up.pipe, !c.up.splicing || c.up.pending == 0);
  pipes_.Release(c.down.pipe, !c.down.splicing || c.down.pending == 0);
  c.up.pipe = c.down.pipe = Pipe{};

  Event e = NewEvent(Event::Type::kClose, c);
  e.client = c.client;
  e.upstream = c.upstream;
  e.outcome = c.outcome;
  e.reason = reason;
  e.err = err;
  e.duration_ms = (MonotonicNs() - c.opened_ns) / 1'000'000;
  e.bytes_up = c.up.bytes;
  e.bytes_down = c.down.bytes;
  e.subflows = c.subflows;
  events_.Push(std::move(e));

  shared_.active--;
  c.entry->active--;
  {
    std::lock_guard<std::mutex> lock(shared_.owners_mu);
    shared_.owners.erase(c.id);
  }
  auto it = conns_.find(c.id);
  if (it != conns_.end()) {
    graveyard_.push_back(std::move(it->second));
    conns_.erase(it);
  }
}

void Worker::EmitOpen(const Connection& c) {
  Event e = NewEvent(Event::Type::kOpen, c);
  e.client = c.client;
  events_.Push(std::move(e));
}

ConnectionStat Worker::StatOf(Connection& c, uint64_t now) {
  if (c.outcome == Outcome::kMptcp) PollSubflows(c, true);
  ConnectionStat s;
  s.id = c.id;
  s.listener_id = c.listener->id;
  s.worker = index_;
  s.state = c.state;
  s.client = c.client;
  s.upstream = c.upstream;
  s.outcome = c.state == ConnState::kConnecting ? Outcome::kError : c.outcome;
  s.age_ms = (now - c.opened_ns) / 1'000'000;
  s.bytes_up = c.up.bytes;
  s.bytes_down = c.down.bytes;
  s.subflows = c.subflows;
  s.token = c.token;
  s.app_local = c.app_local;
  s.app_remote = c.app_remote;
  s.migrations = c.migrations;
  return s;
}

WorkerSnapshot Worker::Snapshot() {
  WorkerSnapshot snap;
  const uint64_t now = MonotonicNs();
  for (auto& [id, owned] : conns_) snap.connections.push_back(StatOf(*owned, now));
  snap.address_bytes = address_bytes_;
  snap.worker.index = index_;
  snap.worker.tid = tid_.load();
  snap.worker.pin_errno = pin_errno_.load();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
      if (CPU_ISSET(cpu, &set)) snap.worker.cpus.push_back(cpu);
  }
  return snap;
}

void Worker::Chase(uint64_t id, std::function<void(Worker&, Connection*)> fn) {
  auto it = conns_.find(id);
  if (it != conns_.end()) {
    fn(*this, it->second.get());
    return;
  }
  {
    // Not here: it closed, or it is in a hand-over. The owner map names the worker it goes to,
    // and since the map changes together with queueing the hand-over there, what we post to that
    // worker now runs after the hand-over. That may be this very worker: it left and is on its
    // way back, and this task was queued before the return.
    std::lock_guard<std::mutex> lock(shared_.owners_mu);
    auto owner = shared_.owners.find(id);
    if (owner != shared_.owners.end()) {
      Worker* next = shared_.workers[owner->second];
      if (next->Post([next, id, fn] { next->Chase(id, fn); })) return;
    }
  }
  fn(*this, nullptr);
}

void Worker::MoveOut(Connection& c, uint32_t to) {
  if (to == index_ || to >= shared_.workers.size() || c.closed) return;
  auto it = conns_.find(c.id);
  if (it == conns_.end()) return;
  const uint64_t id = c.id;
  Worker* dest = shared_.workers[to];
  // Out of our epoll set first: from here on no event of ours can name this connection.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.client_fd, nullptr);
  if (c.upstream_fd >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.upstream_fd, nullptr);
  if (c.in_ready) {
    std::erase(ready_, &c);
    c.in_ready = false;
  }
  // Bytes in flight stay in c.up/c.down (buffer or pipe): they travel with the connection, and
  // the pipes are released into the new owner's pool when it closes the connection.
  auto box = std::make_shared<std::unique_ptr<Connection>>(std::move(it->second));
  conns_.erase(it);
  {
    std::lock_guard<std::mutex> lock(shared_.owners_mu);
    if (dest->Post([dest, box] { dest->AdoptConnection(std::move(*box)); })) {
      shared_.owners[id] = to;
      return;  // `c` belongs to `dest` now: not another look at it here
    }
  }
  // `dest` is stopping: keep the connection.
  Connection& kept = **box;
  conns_.emplace(id, std::move(*box));
  Watch(kept);
  if (kept.state != ConnState::kConnecting) Service(kept);
}

void Worker::Watch(Connection& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c.client_out_armed ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = &c.client_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.client_fd, &ev);
  if (c.upstream_fd < 0) return;
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c.upstream_out_armed ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = &c.upstream_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.upstream_fd, &ev);
}

void Worker::AdoptConnection(std::unique_ptr<Connection> owned) {
  if (!owned) return;
  Connection& c = *owned;
  conns_.emplace(c.id, std::move(owned));
  c.migrations++;
  shared_.migrations++;
  Watch(c);
  if (c.state == ConnState::kConnecting) {
    FinishConnect(c);  // still in progress: returns and waits for EPOLLOUT like before
  } else {
    Service(c);
  }
}

}  // namespace braid::relay
