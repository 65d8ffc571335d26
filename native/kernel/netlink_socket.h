#pragma once
// What every netlink client of braid shares: a libmnl socket in the calling thread's netns, and
// one request/reply transaction (ACK'd requests and dumps) with the kernel's error text.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace braid::kernel {

class NetlinkError : public std::runtime_error {
 public:
  // op: the failing step, e.g. "MPTCP_PM_CMD_ADD_ADDR", "RTM_NEWRULE", "socket".
  NetlinkError(int err, const char* op, const std::string& detail);
  int err() const { return err_; }
  const char* op() const { return op_; }

 private:
  int err_;
  const char* op_;  // always a string literal
};

class NetlinkSocket {
 public:
  // bus: NETLINK_GENERIC, NETLINK_ROUTE, ...; name and closed_text only word errors.
  NetlinkSocket(int bus, const char* name, const char* closed_text);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  uint32_t NextSeq() { return ++seq_; }
  // Sends req, then receives until its ACK (or the NLMSG_DONE of a dump), handing every data
  // message of this request to on_msg. Throws NetlinkError on a kernel error.
  void Transact(nlmsghdr* req, const char* op, const std::function<void(const nlmsghdr*)>& on_msg);
  void CheckOpen(const char* op) const;  // NetlinkError(EBADF) once closed
  void Close();                          // idempotent
  bool closed() const { return nl_ == nullptr; }

 private:
  mnl_socket* nl_ = nullptr;
  const char* closed_text_;
  uint32_t seq_ = 0;
  std::vector<char> rx_;
};

}  // namespace braid::kernel
