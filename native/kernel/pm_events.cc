#include "kernel/pm_events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/mptcp.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

namespace braid::kernel {
namespace {

constexpr int kAttrMax = 32;

struct Attrs {
  const nlattr* tb[kAttrMax + 1] = {};
  static int Collect(const nlattr* attr, void* data) {
    auto* a = static_cast<Attrs*>(data);
    unsigned type = mnl_attr_get_type(attr);
    if (type <= kAttrMax) a->tb[type] = attr;
    return MNL_CB_OK;
  }
};

bool Copy(const nlattr* a, void* dst, size_t len) {
  if (a == nullptr || mnl_attr_get_payload_len(a) != len) return false;
  std::memcpy(dst, mnl_attr_get_payload(a), len);
  return true;
}

// The group id of "mptcp_pm_events" from a CTRL_CMD_GETFAMILY reply.
int FindEventGroup(const nlmsghdr* nlh, uint32_t* group) {
  Attrs top;
  mnl_attr_parse(nlh, sizeof(genlmsghdr), Attrs::Collect, &top);
  const nlattr* groups = top.tb[CTRL_ATTR_MCAST_GROUPS];
  if (groups == nullptr) return MNL_CB_OK;
  // mnl_attr_for_each_nested is a C macro that relies on void* conversions.
  const char* end = static_cast<const char*>(mnl_attr_get_payload(groups)) + mnl_attr_get_payload_len(groups);
  for (auto* g = static_cast<const nlattr*>(mnl_attr_get_payload(groups));
       mnl_attr_ok(g, static_cast<int>(end - reinterpret_cast<const char*>(g))); g = mnl_attr_next(g)) {
    Attrs ga;
    mnl_attr_parse_nested(g, Attrs::Collect, &ga);
    const nlattr* name = ga.tb[CTRL_ATTR_MCAST_GRP_NAME];
    const nlattr* id = ga.tb[CTRL_ATTR_MCAST_GRP_ID];
    if (name && id && mnl_attr_validate(name, MNL_TYPE_NUL_STRING) == 0 &&
        std::strcmp(mnl_attr_get_str(name), MPTCP_PM_EV_GRP_NAME) == 0) {
      *group = mnl_attr_get_u32(id);
    }
  }
  return MNL_CB_OK;
}

}  // namespace

bool ParsePmEvent(const nlmsghdr* nlh, PmEvent* out) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(genlmsghdr)) return false;
  const auto* genl = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh));
  *out = PmEvent{};
  switch (genl->cmd) {
    case 1: case 2: case 3: case 6: case 7: case 10: case 11: case 13:
      out->type = static_cast<PmEventType>(genl->cmd);
      break;
    default:
      return false;
  }
  Attrs a;
  mnl_attr_parse(nlh, sizeof(genlmsghdr), Attrs::Collect, &a);
  if (a.tb[MPTCP_ATTR_TOKEN] == nullptr || mnl_attr_validate(a.tb[MPTCP_ATTR_TOKEN], MNL_TYPE_U32) < 0) return false;
  out->token = mnl_attr_get_u32(a.tb[MPTCP_ATTR_TOKEN]);
  int family = 0;
  if (const nlattr* f = a.tb[MPTCP_ATTR_FAMILY]; f && mnl_attr_validate(f, MNL_TYPE_U16) == 0) family = mnl_attr_get_u16(f);
  out->local.family = out->remote.family = family;
  if (family == AF_INET) {
    out->has_local = Copy(a.tb[MPTCP_ATTR_SADDR4], out->local.addr.data(), 4);
    out->has_remote = Copy(a.tb[MPTCP_ATTR_DADDR4], out->remote.addr.data(), 4);
  } else if (family == AF_INET6) {
    out->has_local = Copy(a.tb[MPTCP_ATTR_SADDR6], out->local.addr.data(), 16);
    out->has_remote = Copy(a.tb[MPTCP_ATTR_DADDR6], out->remote.addr.data(), 16);
  }
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the paths know them as IPv4.
  for (PmAddress* addr : {&out->local, &out->remote}) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr->family == AF_INET6 && std::memcmp(addr->addr.data(), kMapped, 12) == 0) {
      addr->family = AF_INET;
      std::memmove(addr->addr.data(), addr->addr.data() + 12, 4);
      std::memset(addr->addr.data() + 4, 0, 12);
    }
  }
  uint16_t port = 0;
  if (Copy(a.tb[MPTCP_ATTR_SPORT], &port, 2)) out->local.port = ntohs(port);
  if (Copy(a.tb[MPTCP_ATTR_DPORT], &port, 2)) out->remote.port = ntohs(port);
  if (const nlattr* v = a.tb[MPTCP_ATTR_LOC_ID]; v && mnl_attr_validate(v, MNL_TYPE_U8) == 0) out->loc_id = mnl_attr_get_u8(v);
  if (const nlattr* v = a.tb[MPTCP_ATTR_REM_ID]; v && mnl_attr_validate(v, MNL_TYPE_U8) == 0) out->rem_id = mnl_attr_get_u8(v);
  if (const nlattr* v = a.tb[MPTCP_ATTR_BACKUP]; v && mnl_attr_validate(v, MNL_TYPE_U8) == 0) out->backup = mnl_attr_get_u8(v) != 0;
  if (const nlattr* v = a.tb[MPTCP_ATTR_SERVER_SIDE]; v && mnl_attr_validate(v, MNL_TYPE_U8) == 0) {
    out->server_side = mnl_attr_get_u8(v) != 0;
  }
  if (const nlattr* v = a.tb[MPTCP_ATTR_IF_IDX]; v && mnl_attr_validate(v, MNL_TYPE_U32) == 0) {
    out->ifindex = static_cast<int32_t>(mnl_attr_get_u32(v));
  }
  if (const nlattr* v = a.tb[MPTCP_ATTR_ERROR]; v && mnl_attr_validate(v, MNL_TYPE_U8) == 0) out->error = mnl_attr_get_u8(v);
  return true;
}

PmEventSocket::PmEventSocket() {
  nl_ = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (nl_ == nullptr) throw NetlinkError(errno, "socket", "generic netlink (path-manager events)");
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(nl_);
    throw NetlinkError(err, "bind", "generic netlink (path-manager events)");
  }
  // Resolve the group on a blocking helper socket so this one stays purely for events.
  uint32_t group = 0;
  {
    NetlinkSocket ctrl(NETLINK_GENERIC, "generic netlink", "closed");
    alignas(nlmsghdr) char buf[256] = {};
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = GENL_ID_CTRL;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = ctrl.NextSeq();
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = CTRL_CMD_GETFAMILY;
    genl->version = 1;
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
    try {
      ctrl.Transact(nlh, "CTRL_CMD_GETFAMILY", [&group](const nlmsghdr* msg) { FindEventGroup(msg, &group); });
    } catch (...) {
      mnl_socket_close(nl_);
      throw;
    }
  }
  if (group == 0) {
    mnl_socket_close(nl_);
    throw NetlinkError(ENOENT, "CTRL_CMD_GETFAMILY", "no multicast group " MPTCP_PM_EV_GRP_NAME);
  }
  if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
    int err = errno;
    mnl_socket_close(nl_);
    throw NetlinkError(err, "NETLINK_ADD_MEMBERSHIP", MPTCP_PM_EV_GRP_NAME);
  }
  // Bursts of connections produce bursts of events: a roomy buffer keeps ENOBUFS rare.
  int size = 4 << 20;
  setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
}

PmEventSocket::~PmEventSocket() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

int PmEventSocket::fd() const { return mnl_socket_get_fd(nl_); }

bool PmEventSocket::Drain(const std::function<void(const PmEvent&)>& on_event) {
  std::vector<char> buf(65536);
  bool complete = true;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        complete = false;
        continue;
      }
      return complete;  // EAGAIN: all read
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      PmEvent ev;
      if (ParsePmEvent(nlh, &ev)) on_event(ev);
    }
  }
}

}  // namespace braid::kernel
