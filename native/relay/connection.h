#pragma once
// One proxied connection: the accepted client socket, the dialled upstream socket, and one
// Direction each way. The worker drives it; this struct only holds its state.
#include <cstdint>
#include <string>
#include <vector>

#include "relay/events.h"
#include "relay/pump.h"
#include "relay/spec.h"

namespace braid::relay {

struct Connection;
struct WorkerListener;

// What epoll hands back: which listener or connection, and which of its two sockets fired.
struct EpollTag {
  enum class Kind { kListener, kControl, kClient, kUpstream };
  Kind kind;
  Connection* conn = nullptr;
  WorkerListener* listener = nullptr;
};

// One worker's socket for a listener.
struct WorkerListener {
  ListenerRef entry;
  int fd = -1;
  EpollTag tag{EpollTag::Kind::kListener};
};

struct Connection {
  uint64_t id = 0;
  ListenerRef entry;  // keeps the listener's spec alive for this connection
  const ListenerSpec* listener = nullptr;  // &entry->spec
  SocketAddress target;
  int client_fd = -1;
  int upstream_fd = -1;
  ConnState state = ConnState::kConnecting;
  Outcome outcome = Outcome::kError;
  std::string client;
  std::string upstream;
  // For the NUMA control loop: the MPTCP token of the network-side socket (0: not MPTCP) and the
  // addresses of the socket facing the local application ("" until known).
  uint32_t token = 0;
  std::string app_local;
  std::string app_remote;
  uint32_t migrations = 0;  // times moved to another worker
  // The latest move request applied. Requests chase a moving connection by different routes and
  // can arrive out of order: an older one arriving late must not undo a newer one.
  uint64_t move_seq = 0;

  uint64_t opened_ns = 0;
  uint64_t last_activity_ns = 0;
  uint64_t next_subflow_poll_ns = 0;

  Direction up;    // client -> upstream
  Direction down;  // upstream -> client
  std::vector<SubflowStat> subflows;  // every subflow seen, closed ones marked

  EpollTag client_tag{EpollTag::Kind::kClient, this};
  EpollTag upstream_tag{EpollTag::Kind::kUpstream, this};
  bool closed = false;
  bool in_ready = false;
  // EPOLLOUT is armed on a socket only while a direction waits to write to it: otherwise every
  // ACK would wake the worker for nothing.
  bool client_out_armed = false;
  bool upstream_out_armed = false;

  // The socket on the network side, which carries MPTCP when anything does.
  int network_fd() const { return listener->mode == ListenerMode::kForward ? upstream_fd : client_fd; }
  // The socket on the application side: the accepted client (forward) or the dialled target (inbound).
  int app_fd() const { return listener->mode == ListenerMode::kForward ? client_fd : upstream_fd; }
  uint64_t bytes_moved() const { return up.bytes + down.bytes; }
};

}  // namespace braid::relay
