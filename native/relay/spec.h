#pragma once
// Plain configuration structs, copied once from the JS object; defaults live here.
#include <cstdint>
#include <string>
#include <vector>

#include "relay/sockaddr.h"

namespace braid::relay {

enum class ListenerMode { kForward, kInbound };
enum class Protocol { kTcp, kMptcp };

struct ListenerSpec {
  uint32_t id = 0;
  std::string name;
  ListenerMode mode = ListenerMode::kForward;
  SocketAddress listen;
  Protocol listen_protocol = Protocol::kTcp;
  SocketAddress target;
  Protocol target_protocol = Protocol::kMptcp;
  int backlog = 1024;
};

struct DataplaneSpec {
  unsigned workers = 1;
  uint32_t max_connections = 10000;
  uint32_t connect_timeout_ms = 5000;
  uint32_t idle_timeout_ms = 0;  // 0: never
  uint32_t pipe_size = 256 * 1024;
  uint32_t subflow_poll_ms = 1000;
  uint32_t upstream_mark = 0;
  std::vector<ListenerSpec> listeners;
};

}  // namespace braid::relay
