#include "kernel/netlink_socket.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

namespace braid::kernel {
namespace {

// A dump batches many entries per datagram.
constexpr size_t kReceiveSize = 32768;  // MNL_SOCKET_DUMP_SIZE

std::string Describe(int err, const char* op, const std::string& detail) {
  std::string msg = std::string(op) + " failed: " + strerrordesc_np(err);
  if (const char* name = strerrorname_np(err)) msg += std::string(" (") + name + ")";
  if (!detail.empty()) msg += ": " + detail;
  return msg;
}

// Extended ACK (NETLINK_EXT_ACK): the kernel's NL_SET_ERR_MSG text, e.g. "address not found".
std::string ExtackMessage(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(nlmsgerr);
  // Without NLM_F_CAPPED the kernel echoes our whole request before the TLVs.
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string text;
  mnl_attr_parse(
      nlh, static_cast<unsigned int>(offset),
      [](const nlattr* attr, void* data) -> int {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &text);
  return text;
}

}  // namespace

NetlinkError::NetlinkError(int err, const char* op, const std::string& detail)
    : std::runtime_error(Describe(err, op, detail)), err_(err), op_(op) {}

NetlinkSocket::NetlinkSocket(int bus, const char* name, const char* closed_text)
    : closed_text_(closed_text), rx_(kReceiveSize) {
  // CLOEXEC: braid may spawn helpers; they must not inherit a netlink socket.
  nl_ = mnl_socket_open2(bus, SOCK_CLOEXEC);
  if (nl_ == nullptr) throw NetlinkError(errno, "socket", name);
  int on = 1;
  // Best effort: extended ACKs only add the kernel's text to errors; capped ACKs spare the echo.
  mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &on, sizeof(on));
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    Close();
    throw NetlinkError(err, "bind", name);
  }
}

NetlinkSocket::~NetlinkSocket() { Close(); }

void NetlinkSocket::Close() {
  if (nl_ != nullptr) {
    mnl_socket_close(nl_);
    nl_ = nullptr;
  }
}

void NetlinkSocket::CheckOpen(const char* op) const {
  if (nl_ == nullptr) throw NetlinkError(EBADF, op, closed_text_);
}

void NetlinkSocket::Transact(nlmsghdr* req, const char* op, const std::function<void(const nlmsghdr*)>& on_msg) {
  CheckOpen(op);
  if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) throw NetlinkError(errno, op, "send");
  const uint32_t seq = req->nlmsg_seq;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, rx_.data(), rx_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw NetlinkError(errno, op, "receive");
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq) continue;  // late reply to an earlier request
      if (nlh->nlmsg_type == NLMSG_NOOP) continue;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) throw NetlinkError(EBADMSG, op, "short ACK");
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) return;  // the ACK: done
        throw NetlinkError(-err->error, op, ExtackMessage(nlh));
      }
      if (nlh->nlmsg_type == NLMSG_DONE) {
        // A dump ends here (the kernel sends no separate ACK for dumps); it may carry an error.
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
          int error = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
          if (error < 0) throw NetlinkError(-error, op, {});
        }
        return;
      }
      on_msg(nlh);
    }
  }
}

}  // namespace braid::kernel
