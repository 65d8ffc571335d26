#pragma once
// A data-plane worker: one thread, one epoll loop, its own share of every listener
// (SO_REUSEPORT) and the connections it accepted. Other threads talk to it only by posting tasks.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "relay/connection.h"
#include "relay/events.h"
#include "relay/pipe_pool.h"
#include "relay/spec.h"

namespace braid::relay {

class Worker;

// Counters and settings shared by all workers. The settings may change while workers run
// (a reload); each worker reads them fresh.
struct SharedState {
  std::atomic<uint32_t> max_connections{0};
  std::atomic<uint32_t> connect_timeout_ms{0};
  std::atomic<uint32_t> idle_timeout_ms{0};
  std::atomic<uint64_t> next_conn_id{1};
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> migrations{0};
  uint64_t move_seq = 0;  // numbers move requests; guarded by owners_mu

  std::vector<Worker*> workers;  // set before the workers start, constant after
  // Which worker owns each open connection. A worker hands a connection over while holding
  // owners_mu and sets the new owner in the same step, so a task sent to the owner named here
  // always queues behind the hand-over (see Worker::Chase).
  std::mutex owners_mu;
  std::unordered_map<uint64_t, uint32_t> owners;
};

struct WorkerSnapshot {
  std::vector<ConnectionStat> connections;
  std::map<std::string, AddressBytes> address_bytes;
  WorkerStat worker;
};

class Worker {
 public:
  Worker(uint32_t index, const DataplaneSpec& spec, SharedState& shared, EventQueue& events);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  // Runs `task` on the worker thread; returns false if the worker has stopped.
  bool Post(std::function<void()> task);
  // Aborts what is left, closes everything and joins the thread.
  void Stop();

  // Before Start(), or on the worker thread through Post(). The worker owns `fd` from here on.
  void AdoptListener(ListenerRef entry, int fd);
  // Worker-thread-only operations, used through Post().
  void CloseListener(uint32_t id);
  void CloseListeners();
  void AbortConnections(uint32_t listener_id);
  WorkerSnapshot Snapshot();
  // Runs fn on the worker that owns connection `id`, following it across moves in flight;
  // fn gets nullptr (on whichever worker found it gone) once the connection has closed.
  void Chase(uint64_t id, std::function<void(Worker&, Connection*)> fn);
  // Hands `c` (owned by this worker) to worker `to`: no-op when `to` is this worker or stopping.
  void MoveOut(Connection& c, uint32_t to);
  ConnectionStat StatOf(Connection& c, uint64_t now);

 private:
  void Run();
  void Pin();
  // Takes over a connection another worker let go of: watch its sockets, then look at them once,
  // since edge-triggered epoll reports nothing that arrived while no one was watching.
  void AdoptConnection(std::unique_ptr<Connection> owned);
  void Watch(Connection& c);
  void RunTasks();
  void Accept(WorkerListener& wl);
  bool ResolveTarget(Connection& c, int& err);
  void OnConnectionEvent(Connection& c, bool client_side, uint32_t events);
  void FinishConnect(Connection& c);
  void Service(Connection& c, bool pump_up = true, bool pump_down = true);
  void ArmWrite(Connection& c, bool client_side, bool want);
  void Tick(uint64_t now);
  void PollSubflows(Connection& c, bool emit_events);
  void Close(Connection& c, CloseReason reason, int err, bool reset);
  void EmitOpen(const Connection& c);
  Event NewEvent(Event::Type type, const Connection& c) const;
  void StartRelay(Connection& c);

  uint32_t index_;
  const DataplaneSpec& spec_;
  SharedState& shared_;
  EventQueue& events_;
  std::vector<std::unique_ptr<WorkerListener>> listeners_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  EpollTag wake_tag_{EpollTag::Kind::kControl};
  PipePool pipes_;
  std::thread thread_;

  std::mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_;
  bool stopping_ = false;  // guarded by tasks_mu_
  std::atomic<bool> running_{false};
  std::atomic<int> tid_{0};
  std::atomic<int> pin_errno_{0};

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> ready_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::map<std::string, AddressBytes> address_bytes_;
  uint64_t next_tick_ns_ = 0;
};

uint64_t MonotonicNs();

}  // namespace braid::relay
