#include "kernel/socket_owner.h"

#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace braid::kernel {
namespace {

void FillEnd(const relay::SocketAddress& a, __be16* port, __be32* addr) {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.get());
    *port = in->sin_port;
    std::memcpy(addr, &in->sin_addr, 4);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.get());
    *port = in6->sin6_port;
    std::memcpy(addr, &in6->sin6_addr, 16);
  }
}

// True when /proc/<pid>/fd holds a link to `target` ("socket:[inode]").
bool ProcessHasLink(pid_t pid, const std::string& target) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  char link[64];
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    if (target == link) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

std::optional<uint64_t> FindTcpSocketInode(const relay::SocketAddress& local, const relay::SocketAddress& remote) {
  if (local.family() != remote.family() || (local.family() != AF_INET && local.family() != AF_INET6)) return std::nullopt;
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: an exact lookup of one socket
  msg.req.sdiag_family = static_cast<uint8_t>(local.family());
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  FillEnd(local, &msg.req.id.idiag_sport, msg.req.id.idiag_src);
  FillEnd(remote, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  std::optional<uint64_t> inode;
  if (send(fd, &msg, sizeof(msg), 0) == static_cast<ssize_t>(sizeof(msg))) {
    alignas(nlmsghdr) char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
      if (NLMSG_OK(nlh, static_cast<unsigned>(n)) && nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
          nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(nlh));
        if (diag->idiag_inode != 0) inode = diag->idiag_inode;
      }
    }
  }
  close(fd);
  return inode;
}

std::optional<pid_t> FindSocketOwner(uint64_t inode, pid_t hint) {
  const std::string target = "socket:[" + std::to_string(inode) + "]";
  if (hint > 0 && ProcessHasLink(hint, target)) return hint;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::optional<pid_t> owner;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0 || pid == hint) continue;
    if (ProcessHasLink(static_cast<pid_t>(pid), target)) {
      owner = static_cast<pid_t>(pid);
      break;
    }
  }
  closedir(proc);
  return owner;
}

std::optional<ProcessCpus> ReadProcessCpus(pid_t pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(pid, sizeof(set), &set) != 0) return std::nullopt;
  ProcessCpus out;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &set)) out.allowed.push_back(cpu);
  }
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  if (FILE* f = std::fopen(path.c_str(), "re")) {
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    if (char* p = std::strrchr(buf, ')')) {
      int field = 2;
      for (char* tok = std::strtok(p + 1, " "); tok != nullptr; tok = std::strtok(nullptr, " ")) {
        if (++field == 39) {
          out.last = std::atoi(tok);
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace braid::kernel
