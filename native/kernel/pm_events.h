#pragma once
// Events of the kernel MPTCP path manager (generic netlink family "mptcp_pm", multicast group
// "mptcp_pm_events"): what the userspace path manager reacts to. Parse is pure; PmEventSocket
// owns the subscribed socket.
#include <netinet/in.h>

#include <cstdint>
#include <functional>

#include "kernel/pm_netlink.h"

struct mnl_socket;
struct nlmsghdr;

namespace braid::kernel {

// MPTCP_EVENT_* (uapi linux/mptcp.h).
enum class PmEventType : uint8_t {
  kUnknown = 0,
  kCreated = 1,
  kEstablished = 2,
  kClosed = 3,
  kAnnounced = 6,
  kRemoved = 7,
  kSubEstablished = 10,
  kSubClosed = 11,
  kSubPriority = 13,
};

struct PmEvent {
  PmEventType type = PmEventType::kUnknown;
  uint32_t token = 0;
  uint8_t loc_id = 0;
  uint8_t rem_id = 0;
  bool has_local = false;
  bool has_remote = false;
  PmAddress local;   // saddr/sport
  PmAddress remote;  // daddr/dport (the announced address for kAnnounced)
  bool backup = false;
  bool server_side = false;
  int32_t ifindex = 0;
  uint8_t error = 0;
};

// Fills `out` from one event message; false when it is not a path-manager event we understand.
bool ParsePmEvent(const nlmsghdr* nlh, PmEvent* out);

class PmEventSocket {
 public:
  // Subscribes to "mptcp_pm_events" in the calling thread's netns. Throws NetlinkError.
  PmEventSocket();
  ~PmEventSocket();
  PmEventSocket(const PmEventSocket&) = delete;
  PmEventSocket& operator=(const PmEventSocket&) = delete;

  int fd() const;
  // Reads what is queued without blocking and hands each event to on_event. Returns false when
  // the kernel dropped events (ENOBUFS): the caller must then resynchronise.
  bool Drain(const std::function<void(const PmEvent&)>& on_event);

 private:
  mnl_socket* nl_ = nullptr;
};

}  // namespace braid::kernel
