// Generic netlink client for the kernel MPTCP path manager. See pm_netlink.h.
#include "kernel/pm_netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/mptcp.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cstring>

namespace braid::kernel {

namespace {

// Requests are a few attributes; replies may batch many endpoints per datagram.
constexpr size_t kRequestSize = 512;
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

// Collects attributes of one level into tb[type], ignoring types above max (newer kernels).
struct AttrTable {
  const nlattr* tb[16] = {};
  unsigned int max;
  explicit AttrTable(unsigned int m) : max(m) {}
  static int Collect(const nlattr* attr, void* data) {
    auto* t = static_cast<AttrTable*>(data);
    unsigned int type = mnl_attr_get_type(attr);
    if (type <= t->max && type < 16) t->tb[type] = attr;
    return MNL_CB_OK;
  }
};

bool ParseEndpointNest(const nlattr* nest, PmEndpoint* ep) {
  AttrTable t(MPTCP_PM_ADDR_ATTR_MAX);
  if (mnl_attr_parse_nested(nest, AttrTable::Collect, &t) < 0) return false;
  const nlattr* const* tb = t.tb;
  if (tb[MPTCP_PM_ADDR_ATTR_FAMILY] == nullptr || mnl_attr_validate(tb[MPTCP_PM_ADDR_ATTR_FAMILY], MNL_TYPE_U16) < 0) {
    return false;
  }
  ep->family = mnl_attr_get_u16(tb[MPTCP_PM_ADDR_ATTR_FAMILY]);
  if (const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_ID]; a && mnl_attr_validate(a, MNL_TYPE_U8) == 0) {
    ep->id = mnl_attr_get_u8(a);
  }
  if (ep->family == AF_INET) {
    const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_ADDR4];
    if (a == nullptr || mnl_attr_get_payload_len(a) != 4) return false;
    std::memcpy(ep->addr.data(), mnl_attr_get_payload(a), 4);
  } else if (ep->family == AF_INET6) {
    const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_ADDR6];
    if (a == nullptr || mnl_attr_get_payload_len(a) != 16) return false;
    std::memcpy(ep->addr.data(), mnl_attr_get_payload(a), 16);
  } else {
    return false;
  }
  if (const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_PORT]; a && mnl_attr_validate(a, MNL_TYPE_U16) == 0) {
    ep->port = mnl_attr_get_u16(a);
  }
  if (const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_FLAGS]; a && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
    ep->flags = mnl_attr_get_u32(a);
  }
  if (const nlattr* a = tb[MPTCP_PM_ADDR_ATTR_IF_IDX]; a && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
    ep->ifindex = static_cast<int32_t>(mnl_attr_get_u32(a));
  }
  return true;
}

}  // namespace

bool PmParseAddress(const std::string& text, PmEndpoint* ep) {
  std::array<uint8_t, 16> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1) {
    ep->family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1) {
    ep->family = AF_INET6;
  } else {
    return false;
  }
  ep->addr = buf;
  return true;
}

std::string PmFormatAddress(const PmEndpoint& ep) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(ep.family, ep.addr.data(), text, sizeof(text)) == nullptr) return {};
  return text;
}

PmError::PmError(int err, const char* op, const std::string& detail)
    : std::runtime_error(Describe(err, op, detail)), err_(err), op_(op) {}

PmNetlink::PmNetlink() : rx_(kReceiveSize) {
  // CLOEXEC: braid may spawn helpers; they must not inherit the path manager socket.
  nl_ = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
  if (nl_ == nullptr) throw PmError(errno, "socket", "generic netlink");
  int on = 1;
  // Best effort: extended ACKs only add the kernel's text to errors; capped ACKs spare the echo.
  mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &on, sizeof(on));
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    Close();
    throw PmError(err, "bind", "generic netlink");
  }
  portid_ = mnl_socket_get_portid(nl_);

  try {
    alignas(nlmsghdr) char buf[kRequestSize];
    nlmsghdr* nlh = StartRequest(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
    Transact(nlh, "CTRL_CMD_GETFAMILY", [this](const nlmsghdr* msg) {
      AttrTable t(CTRL_ATTR_FAMILY_NAME);
      mnl_attr_parse(msg, sizeof(genlmsghdr), AttrTable::Collect, &t);
      if (const nlattr* a = t.tb[CTRL_ATTR_FAMILY_ID]; a && mnl_attr_validate(a, MNL_TYPE_U16) == 0) {
        family_ = mnl_attr_get_u16(a);
      }
    });
    if (family_ == 0) throw PmError(ENOENT, "CTRL_CMD_GETFAMILY", "no family id for " MPTCP_PM_NAME);
  } catch (...) {
    Close();
    throw;
  }
}

PmNetlink::~PmNetlink() { Close(); }

void PmNetlink::Close() {
  if (nl_ != nullptr) {
    mnl_socket_close(nl_);
    nl_ = nullptr;
  }
}

void PmNetlink::CheckOpen(const char* op) const {
  if (nl_ == nullptr) throw PmError(EBADF, op, "path manager is closed");
}

nlmsghdr* PmNetlink::StartRequest(char* buf, uint16_t type, uint8_t cmd, uint8_t version, uint16_t flags) {
  std::memset(buf, 0, kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = ++seq_;
  auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
  genl->cmd = cmd;
  genl->version = version;
  return nlh;
}

template <typename OnMsg>
void PmNetlink::Transact(nlmsghdr* req, const char* op, OnMsg&& on_msg) {
  CheckOpen(op);
  if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) throw PmError(errno, op, "send");
  const uint32_t seq = req->nlmsg_seq;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, rx_.data(), rx_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw PmError(errno, op, "receive");
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq) continue;  // late reply to an earlier request
      if (nlh->nlmsg_type == NLMSG_NOOP) continue;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) throw PmError(EBADMSG, op, "short ACK");
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) return;  // the ACK: done
        throw PmError(-err->error, op, ExtackMessage(nlh));
      }
      if (nlh->nlmsg_type == NLMSG_DONE) {
        // A dump ends here (the kernel sends no separate ACK for dumps); it may carry an error.
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
          int error = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
          if (error < 0) throw PmError(-error, op, {});
        }
        return;
      }
      on_msg(nlh);
    }
  }
}

std::vector<PmEndpoint> PmNetlink::ListEndpoints() {
  const char* op = "MPTCP_PM_CMD_GET_ADDR";
  CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_VER, NLM_F_DUMP);
  std::vector<PmEndpoint> out;
  Transact(nlh, op, [&out](const nlmsghdr* msg) {
    AttrTable t(MPTCP_PM_ATTR_MAX);
    mnl_attr_parse(msg, sizeof(genlmsghdr), AttrTable::Collect, &t);
    PmEndpoint ep;
    // Accept loosely: an entry we cannot parse (unknown family) is skipped, not fatal.
    if (t.tb[MPTCP_PM_ATTR_ADDR] != nullptr && ParseEndpointNest(t.tb[MPTCP_PM_ATTR_ADDR], &ep)) out.push_back(ep);
  });
  return out;
}

void PmNetlink::AddEndpoint(const PmEndpoint& ep) {
  const char* op = "MPTCP_PM_CMD_ADD_ADDR";
  CheckOpen(op);
  if (ep.family != AF_INET && ep.family != AF_INET6) throw PmError(EAFNOSUPPORT, op, "family");
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_ADD_ADDR, MPTCP_PM_VER, 0);
  nlattr* nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR | NLA_F_NESTED);
  mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_FAMILY, static_cast<uint16_t>(ep.family));
  if (ep.id != 0) mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, ep.id);
  if (ep.family == AF_INET) {
    mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR4, 4, ep.addr.data());
  } else {
    mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR6, 16, ep.addr.data());
  }
  if (ep.port != 0) mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_PORT, ep.port);
  mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_FLAGS, ep.flags);
  if (ep.ifindex != 0) mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_IF_IDX, static_cast<uint32_t>(ep.ifindex));
  mnl_attr_nest_end(nlh, nest);
  Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::DeleteEndpoint(uint8_t id) {
  const char* op = "MPTCP_PM_CMD_DEL_ADDR";
  CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_DEL_ADDR, MPTCP_PM_VER, 0);
  nlattr* nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR | NLA_F_NESTED);
  mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, id);
  mnl_attr_nest_end(nlh, nest);
  Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::SetFlags(uint8_t id, uint32_t flags) {
  const char* op = "MPTCP_PM_CMD_SET_FLAGS";
  CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SET_FLAGS, MPTCP_PM_VER, 0);
  nlattr* nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR | NLA_F_NESTED);
  mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, id);
  mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_FLAGS, flags);
  mnl_attr_nest_end(nlh, nest);
  Transact(nlh, op, [](const nlmsghdr*) {});
}

PmLimits PmNetlink::GetLimits() {
  const char* op = "MPTCP_PM_CMD_GET_LIMITS";
  CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_GET_LIMITS, MPTCP_PM_VER, 0);
  PmLimits limits;
  bool seen = false;
  Transact(nlh, op, [&](const nlmsghdr* msg) {
    AttrTable t(MPTCP_PM_ATTR_MAX);
    mnl_attr_parse(msg, sizeof(genlmsghdr), AttrTable::Collect, &t);
    if (const nlattr* a = t.tb[MPTCP_PM_ATTR_SUBFLOWS]; a && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
      limits.subflows = mnl_attr_get_u32(a);
      seen = true;
    }
    if (const nlattr* a = t.tb[MPTCP_PM_ATTR_RCV_ADD_ADDRS]; a && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
      limits.add_addr_accepted = mnl_attr_get_u32(a);
    }
  });
  if (!seen) throw PmError(EBADMSG, op, "reply without limits");
  return limits;
}

void PmNetlink::SetLimits(const PmLimits& limits) {
  const char* op = "MPTCP_PM_CMD_SET_LIMITS";
  CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SET_LIMITS, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_RCV_ADD_ADDRS, limits.add_addr_accepted);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_SUBFLOWS, limits.subflows);
  Transact(nlh, op, [](const nlmsghdr*) {});
}

}  // namespace braid::kernel
