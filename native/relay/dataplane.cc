#include "relay/dataplane.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <unordered_map>

#include "kernel/mptcp_sockopt.h"

namespace braid::relay {
namespace {

void CloseAll(std::vector<std::vector<int>>& fds) {
  for (auto& row : fds)
    for (int fd : row)
      if (fd >= 0) close(fd);
}

int OpenListener(const ListenerSpec& l, const SocketAddress& addr, const char*& failed_call) {
  const int proto = l.listen_protocol == Protocol::kMptcp ? kernel::kIpprotoMptcp : IPPROTO_TCP;
  int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    failed_call = "socket";
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    failed_call = "setsockopt";
  } else if (addr.family() == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    failed_call = "setsockopt";
  } else if (l.tproxy && (addr.family() == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))
                                                    : setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one))) != 0) {
    failed_call = "setsockopt(IP_TRANSPARENT)";
  } else if (bind(fd, addr.get(), addr.length) != 0) {
    failed_call = "bind";
  } else if (listen(fd, l.backlog) != 0) {
    failed_call = "listen";
  } else {
    return fd;
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

}  // namespace

Dataplane::Dataplane(DataplaneSpec spec, EventQueue& events) : spec_(std::move(spec)), events_(events) {
  if (spec_.workers == 0) spec_.workers = 1;
  SetLimits(spec_.max_connections, spec_.connect_timeout_ms, spec_.idle_timeout_ms);
  std::vector<ListenerSpec> initial = std::move(spec_.listeners);
  spec_.listeners.clear();  // listeners live in entries_ from here on
  std::vector<std::vector<int>> fds = Bind(initial, bound_);
  for (unsigned w = 0; w < spec_.workers; w++) {
    workers_.push_back(std::make_unique<Worker>(w, spec_, shared_, events_));
    shared_.workers.push_back(workers_.back().get());
  }
  for (size_t i = 0; i < initial.size(); i++) {
    auto entry = std::make_shared<ListenerEntry>(std::move(initial[i]));
    entries_.push_back(entry);
    for (unsigned w = 0; w < spec_.workers; w++) workers_[w]->AdoptListener(entry, fds[w][i]);
  }
}

std::vector<std::vector<int>> Dataplane::Bind(const std::vector<ListenerSpec>& specs, std::vector<BoundListener>& bound) {
  std::vector<std::vector<int>> fds(spec_.workers, std::vector<int>(specs.size(), -1));
  std::vector<BoundListener> added;
  for (size_t li = 0; li < specs.size(); li++) {
    const ListenerSpec& l = specs[li];
    SocketAddress addr = l.listen;
    for (unsigned w = 0; w < spec_.workers; w++) {
      const char* call = "";
      int fd = OpenListener(l, addr, call);
      if (fd < 0) {
        int err = errno;
        CloseAll(fds);
        throw SystemError("BRAID_BIND", err, call, FormatSocketAddress(l.listen),
                          "listener " + l.name + ": " + std::string(call) + " " + FormatSocketAddress(l.listen) + ": " +
                              std::strerror(err));
      }
      fds[w][li] = fd;
      if (w == 0) {
        // Port 0: every worker must join the port the kernel picked for the first one.
        socklen_t len = sizeof(addr.storage);
        getsockname(fd, addr.get(), &len);
        addr.length = len;
        added.push_back(BoundListener{l.id, FormatHost(addr.get()), PortOf(addr.get())});
      }
    }
  }
  bound.insert(bound.end(), added.begin(), added.end());
  return fds;
}

void Dataplane::RunOnWorkers(const std::function<void(Worker&)>& task) {
  std::vector<std::future<void>> done;
  for (auto& w : workers_) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    Worker* worker = w.get();
    if (!w->Post([p, worker, task] {
          task(*worker);
          p->set_value();
        })) {
      p->set_value();
    }
  }
  for (auto& f : done) f.wait_for(std::chrono::seconds(2));
}

std::vector<BoundListener> Dataplane::AddListeners(std::vector<ListenerSpec> specs) {
  std::vector<BoundListener> added;
  std::vector<std::vector<int>> fds = Bind(specs, added);
  for (size_t i = 0; i < specs.size(); i++) {
    auto entry = std::make_shared<ListenerEntry>(std::move(specs[i]));
    entries_.push_back(entry);
    for (unsigned w = 0; w < spec_.workers; w++) {
      const int fd = fds[w][i];
      Worker* worker = workers_[w].get();
      if (!worker->Post([worker, entry, fd] { worker->AdoptListener(entry, fd); })) close(fd);
    }
  }
  bound_.insert(bound_.end(), added.begin(), added.end());
  return added;
}

void Dataplane::SetLimits(uint32_t max_connections, uint32_t connect_timeout_ms, uint32_t idle_timeout_ms) {
  shared_.max_connections = max_connections;
  shared_.connect_timeout_ms = connect_timeout_ms;
  shared_.idle_timeout_ms = idle_timeout_ms;
}

void Dataplane::RemoveListeners(const std::vector<uint32_t>& ids) {
  RunOnWorkers([&ids](Worker& w) {
    for (uint32_t id : ids) w.CloseListener(id);
  });
  std::erase_if(bound_, [&ids](const BoundListener& b) { return std::find(ids.begin(), ids.end(), b.id) != ids.end(); });
}

void Dataplane::AbortConnections(uint32_t listener_id) {
  RunOnWorkers([listener_id](Worker& w) { w.AbortConnections(listener_id); });
}

uint32_t Dataplane::ActiveConnections(uint32_t listener_id) const {
  for (const auto& e : entries_) {
    if (e->spec.id == listener_id) return e->active.load();
  }
  return 0;
}

Dataplane::~Dataplane() { Close(); }

void Dataplane::Start() {
  for (auto& w : workers_) w->Start();
}

void Dataplane::StopAccepting() {
  RunOnWorkers([](Worker& w) { w.CloseListeners(); });
}

bool Dataplane::MoveConnection(uint64_t conn_id, uint32_t worker) {
  if (closed_ || worker >= workers_.size()) return false;
  // Sent to the owner named now; if the connection is on its way elsewhere, Chase follows it.
  // Requests may reach it out of order that way, so each carries a number and the connection
  // ignores one older than the last it obeyed: the latest request decides where it ends up.
  std::lock_guard<std::mutex> lock(shared_.owners_mu);
  auto owner = shared_.owners.find(conn_id);
  if (owner == shared_.owners.end()) return false;
  const uint64_t seq = ++shared_.move_seq;
  Worker* w = workers_[owner->second].get();
  return w->Post([w, conn_id, worker, seq] {
    w->Chase(conn_id, [worker, seq](Worker& at, Connection* c) {
      if (c == nullptr || c->move_seq > seq) return;
      c->move_seq = seq;
      at.MoveOut(*c, worker);
    });
  });
}

DataplaneSnapshot Dataplane::Snapshot() {
  DataplaneSnapshot out;
  std::vector<std::future<WorkerSnapshot>> parts;
  for (auto& w : workers_) {
    auto p = std::make_shared<std::promise<WorkerSnapshot>>();
    parts.push_back(p->get_future());
    Worker* worker = w.get();
    if (!w->Post([p, worker] { p->set_value(worker->Snapshot()); })) p->set_value(WorkerSnapshot{});
  }
  for (auto& f : parts) {
    if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) continue;
    WorkerSnapshot s = f.get();
    for (auto& c : s.connections) out.connections.push_back(std::move(c));
    for (auto& [addr, b] : s.address_bytes) {
      out.address_bytes[addr].sent += b.sent;
      out.address_bytes[addr].received += b.received;
    }
    out.workers.push_back(std::move(s.worker));
  }
  MendMoves(out.connections);
  out.accepted = shared_.accepted.load();
  out.refused = shared_.refused.load();
  out.active = shared_.active.load();
  out.migrations = shared_.migrations.load();
  return out;
}

void Dataplane::MendMoves(std::vector<ConnectionStat>& conns) {
  // The workers answered one after another, so a connection moving meanwhile may have been
  // seen by both (keep the later sighting: more migrations) or by neither (ask its owner now).
  std::unordered_map<uint64_t, size_t> seen;
  std::vector<ConnectionStat> unique;
  for (auto& c : conns) {
    auto [it, added] = seen.emplace(c.id, unique.size());
    if (added) {
      unique.push_back(std::move(c));
    } else if (c.migrations > unique[it->second].migrations) {
      unique[it->second] = std::move(c);
    }
  }
  std::vector<std::pair<uint64_t, uint32_t>> missing;
  {
    std::lock_guard<std::mutex> lock(shared_.owners_mu);
    for (const auto& [id, owner] : shared_.owners)
      if (!seen.contains(id)) missing.emplace_back(id, owner);
  }
  std::vector<std::future<std::optional<ConnectionStat>>> found;
  for (const auto& [id, owner] : missing) {
    auto p = std::make_shared<std::promise<std::optional<ConnectionStat>>>();
    found.push_back(p->get_future());
    Worker* w = workers_[owner].get();
    const uint64_t conn_id = id;
    if (!w->Post([w, conn_id, p] {
          w->Chase(conn_id, [p](Worker& at, Connection* c) {
            if (c == nullptr) {
              p->set_value(std::nullopt);
            } else {
              p->set_value(at.StatOf(*c, MonotonicNs()));
            }
          });
        })) {
      p->set_value(std::nullopt);
    }
  }
  for (auto& f : found) {
    if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) continue;
    if (auto stat = f.get()) unique.push_back(std::move(*stat));
  }
  conns = std::move(unique);
}

void Dataplane::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& w : workers_) w->Stop();
  workers_.clear();
}

}  // namespace braid::relay
