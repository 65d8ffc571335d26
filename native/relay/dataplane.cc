#include "relay/dataplane.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

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
  // fds[worker][listener]
  std::vector<std::vector<int>> fds(spec_.workers, std::vector<int>(spec_.listeners.size(), -1));
  for (size_t li = 0; li < spec_.listeners.size(); li++) {
    const ListenerSpec& l = spec_.listeners[li];
    SocketAddress addr = l.listen;
    for (unsigned w = 0; w < spec_.workers; w++) {
      const char* call = "";
      int fd = OpenListener(l, addr, call);
      if (fd < 0) {
        int err = errno;
        CloseAll(fds);
        throw SystemError("BRAID_BIND", err, call,
                          FormatSocketAddress(l.listen),
                          "listener " + l.name + ": " + std::string(call) + " " + FormatSocketAddress(l.listen) + ": " +
                              std::strerror(err));
      }
      fds[w][li] = fd;
      if (w == 0) {
        // Port 0: every worker must join the port the kernel picked for the first one.
        socklen_t len = sizeof(addr.storage);
        getsockname(fd, addr.get(), &len);
        addr.length = len;
        bound_.push_back(BoundListener{l.id, FormatHost(addr.get()), PortOf(addr.get())});
      }
    }
  }
  for (unsigned w = 0; w < spec_.workers; w++) {
    workers_.push_back(std::make_unique<Worker>(w, spec_, fds[w], shared_, events_));
  }
}

Dataplane::~Dataplane() { Close(); }

void Dataplane::Start() {
  for (auto& w : workers_) w->Start();
}

void Dataplane::StopAccepting() {
  std::vector<std::future<void>> done;
  for (auto& w : workers_) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    Worker* worker = w.get();
    if (!w->Post([p, worker] {
          worker->CloseListeners();
          p->set_value();
        })) {
      p->set_value();
    }
  }
  for (auto& f : done) f.wait_for(std::chrono::seconds(2));
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
  }
  out.accepted = shared_.accepted.load();
  out.refused = shared_.refused.load();
  out.active = shared_.active.load();
  return out;
}

void Dataplane::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& w : workers_) w->Stop();
  workers_.clear();
}

}  // namespace braid::relay
