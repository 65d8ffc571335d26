#pragma once
// Which process owns a local TCP socket, and where it may run: how braid learns the NUMA node of
// the application at the far end of one of its own local connections.
//
// The socket is found by its exact four-tuple with one NETLINK_SOCK_DIAG request (its inode);
// the owner by the `socket:[inode]` link among /proc/<pid>/fd, looking at a hinted pid first so
// the common case (one server process, many connections) costs one small directory read.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "relay/sockaddr.h"

namespace braid::kernel {

// The inode of the TCP socket whose local end is `local` and remote end `remote`, in the calling
// thread's network namespace; nullopt when there is none (closed, or in another namespace).
std::optional<uint64_t> FindTcpSocketInode(const relay::SocketAddress& local, const relay::SocketAddress& remote);

// The process holding a descriptor for socket `inode`, trying `hint` first (0: none).
std::optional<pid_t> FindSocketOwner(uint64_t inode, pid_t hint);

struct ProcessCpus {
  std::vector<int> allowed;  // sched_getaffinity of the process (its main thread)
  int last = -1;             // the CPU it last ran on (/proc/<pid>/stat, field 39)
};
std::optional<ProcessCpus> ReadProcessCpus(pid_t pid);

}  // namespace braid::kernel
