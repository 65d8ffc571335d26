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

// Requests are a few attributes.
constexpr size_t kRequestSize = 512;

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

PmNetlink::PmNetlink() : sock_(NETLINK_GENERIC, "generic netlink", "path manager is closed") {
  try {
    alignas(nlmsghdr) char buf[kRequestSize];
    nlmsghdr* nlh = StartRequest(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
    sock_.Transact(nlh, "CTRL_CMD_GETFAMILY", [this](const nlmsghdr* msg) {
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

void PmNetlink::Close() { sock_.Close(); }

nlmsghdr* PmNetlink::StartRequest(char* buf, uint16_t type, uint8_t cmd, uint8_t version, uint16_t flags) {
  std::memset(buf, 0, kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = sock_.NextSeq();
  auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
  genl->cmd = cmd;
  genl->version = version;
  return nlh;
}

std::vector<PmEndpoint> PmNetlink::ListEndpoints() {
  const char* op = "MPTCP_PM_CMD_GET_ADDR";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_VER, NLM_F_DUMP);
  std::vector<PmEndpoint> out;
  sock_.Transact(nlh, op, [&out](const nlmsghdr* msg) {
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
  sock_.CheckOpen(op);
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
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::DeleteEndpoint(uint8_t id) {
  const char* op = "MPTCP_PM_CMD_DEL_ADDR";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_DEL_ADDR, MPTCP_PM_VER, 0);
  nlattr* nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR | NLA_F_NESTED);
  mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, id);
  mnl_attr_nest_end(nlh, nest);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::SetFlags(uint8_t id, uint32_t flags) {
  const char* op = "MPTCP_PM_CMD_SET_FLAGS";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SET_FLAGS, MPTCP_PM_VER, 0);
  nlattr* nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR | NLA_F_NESTED);
  mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, id);
  mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_FLAGS, flags);
  mnl_attr_nest_end(nlh, nest);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

PmLimits PmNetlink::GetLimits() {
  const char* op = "MPTCP_PM_CMD_GET_LIMITS";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_GET_LIMITS, MPTCP_PM_VER, 0);
  PmLimits limits;
  bool seen = false;
  sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
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
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SET_LIMITS, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_RCV_ADD_ADDRS, limits.add_addr_accepted);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_SUBFLOWS, limits.subflows);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::PutAddress(nlmsghdr* nlh, uint16_t attr, const PmAddress& a, int id, uint32_t flags, int32_t ifindex) {
  const bool with_flags = attr == MPTCP_PM_ATTR_ADDR;  // the remote end carries no flags
  nlattr* nest = mnl_attr_nest_start(nlh, attr | NLA_F_NESTED);
  mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_FAMILY, static_cast<uint16_t>(a.family));
  if (id >= 0) mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, static_cast<uint8_t>(id));
  if (a.family == AF_INET) {
    mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR4, 4, a.addr.data());
  } else {
    mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR6, 16, a.addr.data());
  }
  // Host order, like the endpoint commands: the kernel converts (htons(nla_get_u16)).
  if (a.port != 0) mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_PORT, a.port);
  if (with_flags) mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_FLAGS, flags);
  if (ifindex != 0) mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_IF_IDX, static_cast<uint32_t>(ifindex));
  mnl_attr_nest_end(nlh, nest);
}

void PmNetlink::Announce(uint32_t token, uint8_t id, const PmAddress& local) {
  const char* op = "MPTCP_PM_CMD_ANNOUNCE";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_ANNOUNCE, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_TOKEN, token);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR, local, id, kPmFlagSignal, 0);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::CreateSubflow(uint32_t token, uint8_t id, const PmAddress& local, int32_t ifindex, bool backup,
                              const PmAddress& remote) {
  const char* op = "MPTCP_PM_CMD_SUBFLOW_CREATE";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SUBFLOW_CREATE, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_TOKEN, token);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR, local, id, backup ? kPmFlagBackup : 0, ifindex);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR_REMOTE, remote, -1, 0, 0);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::DestroySubflow(uint32_t token, const PmAddress& local, const PmAddress& remote) {
  const char* op = "MPTCP_PM_CMD_SUBFLOW_DESTROY";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SUBFLOW_DESTROY, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_TOKEN, token);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR, local, -1, 0, 0);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR_REMOTE, remote, -1, 0, 0);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void PmNetlink::SetSubflowBackup(uint32_t token, const PmAddress& local, const PmAddress& remote, bool backup) {
  const char* op = "MPTCP_PM_CMD_SET_FLAGS";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, family_, MPTCP_PM_CMD_SET_FLAGS, MPTCP_PM_VER, 0);
  mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_TOKEN, token);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR, local, -1, backup ? kPmFlagBackup : 0, 0);
  PutAddress(nlh, MPTCP_PM_ATTR_ADDR_REMOTE, remote, -1, 0, 0);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

}  // namespace braid::kernel
