#pragma once
// Connection events and stats snapshots as plain structs. Worker threads fill them; the addon
// converts them to JS objects on the JS thread.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace braid::relay {

enum class Outcome { kMptcp, kFallback, kTcp, kError };
enum class CloseReason { kDone, kReset, kConnectError, kConnectTimeout, kIdleTimeout, kRefused, kAborted, kFallbackDenied };
enum class ConnState { kConnecting, kRelaying, kHalfClosed };

const char* OutcomeName(Outcome o);
const char* CloseReasonName(CloseReason r);
const char* ConnStateName(ConnState s);

struct SubflowStat {
  uint32_t id = 0;
  std::string local;
  std::string remote;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint32_t rtt_us = 0;
  bool closed = false;
};

struct Event {
  enum class Type { kOpen, kEstablished, kClose, kSubflowAdded, kSubflowRemoved };
  Type type = Type::kOpen;
  uint64_t conn_id = 0;
  uint32_t listener_id = 0;
  uint32_t worker = 0;
  std::string client;
  std::string upstream;
  Outcome outcome = Outcome::kError;
  CloseReason reason = CloseReason::kDone;
  int err = 0;
  uint64_t connect_us = 0;
  uint64_t duration_ms = 0;
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  std::vector<SubflowStat> subflows;  // close: all seen; subflow events: the one concerned
};

// Multi-producer queue drained by one consumer. `notify` runs (on the producing thread) when the
// queue goes from empty to non-empty, so a burst of events costs one wake-up of the consumer.
class EventQueue {
 public:
  explicit EventQueue(std::function<void()> notify) : notify_(std::move(notify)) {}
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void Push(Event&& e);
  std::vector<Event> TakeAll();

 private:
  std::mutex mu_;
  std::vector<Event> events_;
  std::function<void()> notify_;
};

struct ConnectionStat {
  uint64_t id = 0;
  uint32_t listener_id = 0;
  uint32_t worker = 0;
  ConnState state = ConnState::kConnecting;
  std::string client;
  std::string upstream;
  Outcome outcome = Outcome::kError;
  uint64_t age_ms = 0;
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  std::vector<SubflowStat> subflows;
  uint32_t token = 0;       // MPTCP token of the network-side socket; 0 when not MPTCP
  std::string app_local;    // getsockname() of the application-side socket; "" while unknown
  std::string app_remote;   // getpeername() of it
  uint32_t migrations = 0;  // moves between workers
};

// One worker thread as the NUMA control loop sees it.
struct WorkerStat {
  uint32_t index = 0;
  int tid = 0;             // kernel thread id (sched_getaffinity, /proc/self/task)
  std::vector<int> cpus;   // the thread's affinity now
  int pin_errno = 0;       // the requested pin failed with this errno (running unpinned); 0 otherwise
};

struct AddressBytes {
  uint64_t sent = 0;
  uint64_t received = 0;
};

}  // namespace braid::relay
