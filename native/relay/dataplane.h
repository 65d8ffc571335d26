#pragma once
// Owns the workers. Binding happens in the constructor, on the caller's thread, so a bad
// address fails start-up at once with the address named.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/events.h"
#include "relay/spec.h"
#include "relay/worker.h"

namespace braid::relay {

struct SystemError : std::runtime_error {
  SystemError(const char* code, int err, const char* syscall, std::string address, const std::string& what)
      : std::runtime_error(what), code(code), err(err), syscall(syscall), address(std::move(address)) {}
  const char* code;
  int err;
  const char* syscall;
  std::string address;
};

struct BoundListener {
  uint32_t id;
  std::string host;
  uint16_t port;
};

struct DataplaneSnapshot {
  std::vector<ConnectionStat> connections;
  std::map<std::string, AddressBytes> address_bytes;
  std::vector<WorkerStat> workers;
  uint64_t accepted = 0;
  uint64_t refused = 0;
  uint32_t active = 0;
  uint64_t migrations = 0;  // connection moves between workers, since start
};

class Dataplane {
 public:
  Dataplane(DataplaneSpec spec, EventQueue& events);  // throws SystemError
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  void Start();
  const std::vector<BoundListener>& listeners() const { return bound_; }
  // Binds every new listener on every worker, or none (throws SystemError); then the workers
  // start accepting on them. Returns their bound addresses.
  std::vector<BoundListener> AddListeners(std::vector<ListenerSpec> specs);
  // Closes these listeners' sockets; their open connections go on.
  void RemoveListeners(const std::vector<uint32_t>& ids);
  // Aborts the open connections of one listener (its drain timed out).
  void AbortConnections(uint32_t listener_id);
  void SetLimits(uint32_t max_connections, uint32_t connect_timeout_ms, uint32_t idle_timeout_ms);
  void StopAccepting();
  uint32_t ActiveConnections() const { return shared_.active.load(); }
  uint32_t ActiveConnections(uint32_t listener_id) const;
  // Moves an open connection, both sockets and whatever it holds in flight, to worker `worker`
  // (e.g. the one pinned to its application's NUMA node). Asynchronous: returns once the move is
  // queued; the connection goes on relaying meanwhile, and closing concurrently is safe.
  // False when the connection is gone or `worker` is out of range; true (a no-op) when it is
  // already there. Moves of one connection take effect in the order they were asked for.
  bool MoveConnection(uint64_t conn_id, uint32_t worker);
  DataplaneSnapshot Snapshot();
  void Close();

 private:
  // fds[worker][i] for specs[i]; on failure closes what it opened and throws.
  std::vector<std::vector<int>> Bind(const std::vector<ListenerSpec>& specs, std::vector<BoundListener>& bound);
  void RunOnWorkers(const std::function<void(Worker&)>& task);
  // Snapshot(): drops double sightings of moving connections and fetches the ones missed.
  void MendMoves(std::vector<ConnectionStat>& conns);

  DataplaneSpec spec_;
  EventQueue& events_;
  SharedState shared_;
  std::vector<BoundListener> bound_;
  // Every listener ever added, removed ones too (their connections may still drain). JS thread only.
  std::vector<ListenerRef> entries_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool closed_ = false;
};

}  // namespace braid::relay
