#pragma once
// Plain configuration structs, copied once from the JS object; defaults live here.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "relay/sockaddr.h"

namespace braid::relay {

enum class ListenerMode { kForward, kInbound };
enum class Protocol { kTcp, kMptcp };
enum class Fallback { kAllow, kDeny };

struct ListenerSpec {
  uint32_t id = 0;
  std::string name;
  ListenerMode mode = ListenerMode::kForward;
  SocketAddress listen;
  Protocol listen_protocol = Protocol::kTcp;
  SocketAddress target;
  Protocol target_protocol = Protocol::kMptcp;
  int backlog = 1024;
  bool original_destination = false;  // dial where nftables redirected the client from, not `target`
  // With original_destination: the listener takes TPROXY'd connections (IP_TRANSPARENT), whose
  // original destination is their own local address, instead of NAT-redirected ones.
  bool tproxy = false;
  Fallback fallback = Fallback::kAllow;  // kDeny: reset the client when MPTCP fell back to TCP
  std::string policy;                    // label for events and snapshots; empty when none
};

// A listener as workers and connections share it: a removed listener lives on while
// connections it accepted do.
struct ListenerEntry {
  explicit ListenerEntry(ListenerSpec s) : spec(std::move(s)) {}
  const ListenerSpec spec;
  std::atomic<uint32_t> active{0};
};
using ListenerRef = std::shared_ptr<ListenerEntry>;

struct DataplaneSpec {
  unsigned workers = 1;
  uint32_t max_connections = 10000;
  uint32_t connect_timeout_ms = 5000;
  uint32_t idle_timeout_ms = 0;  // 0: never
  uint32_t pipe_size = 256 * 1024;
  uint32_t subflow_poll_ms = 1000;
  uint32_t upstream_mark = 0;
  // worker_cpus[i]: the CPUs worker i's thread is pinned to when it starts (its NUMA node's, so
  // relaying never copies across sockets). Empty or missing: unpinned. A pin the kernel refuses
  // leaves the worker running unpinned, with the errno in its WorkerStat.
  std::vector<std::vector<int>> worker_cpus;
  std::vector<ListenerSpec> listeners;
};

}  // namespace braid::relay
