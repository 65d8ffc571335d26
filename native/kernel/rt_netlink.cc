// rtnetlink client for fwmark rules and routes. See rt_netlink.h.
#include "kernel/rt_netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cstring>

namespace braid::kernel {

namespace {

constexpr size_t kRequestSize = 512;

// Collects the attributes of one message into tb[type], ignoring types above 63 (newer kernels).
struct AttrTable {
  static constexpr unsigned int kMax = 64;
  const nlattr* tb[kMax] = {};
  static int Collect(const nlattr* attr, void* data) {
    auto* t = static_cast<AttrTable*>(data);
    unsigned int type = mnl_attr_get_type(attr);
    if (type < kMax) t->tb[type] = attr;
    return MNL_CB_OK;
  }
  bool U32(unsigned int type, uint32_t* out) const {
    const nlattr* a = tb[type];
    if (a == nullptr || mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
    *out = mnl_attr_get_u32(a);
    return true;
  }
};

size_t AddressLength(int family) { return family == AF_INET ? 4 : 16; }

void CheckFamily(int family, const char* op) {
  if (family != AF_INET && family != AF_INET6) throw RtError(EAFNOSUPPORT, op, "family must be AF_INET or AF_INET6");
}

// The u8 table fields of rtmsg/fib_rule_hdr cannot hold ids above 255; the u32 attribute then rules.
uint8_t LegacyTable(uint32_t table) { return table > 255 ? static_cast<uint8_t>(RT_TABLE_UNSPEC) : static_cast<uint8_t>(table); }

}  // namespace

std::string RtFormatPrefix(const RtRoute& route) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(route.family, route.dst.data(), text, sizeof(text)) == nullptr) return {};
  return std::string(text) + "/" + std::to_string(route.dst_len);
}

RtNetlink::RtNetlink() : sock_(NETLINK_ROUTE, "NETLINK_ROUTE", "routing socket is closed") {}

RtNetlink::~RtNetlink() { Close(); }

void RtNetlink::Close() { sock_.Close(); }

nlmsghdr* RtNetlink::StartRequest(char* buf, uint16_t type, uint16_t flags) {
  std::memset(buf, 0, kRequestSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = sock_.NextSeq();
  return nlh;
}

std::vector<RtRule> RtNetlink::ListRules(int family) {
  const char* op = "RTM_GETRULE";
  CheckFamily(family, op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_GETRULE, NLM_F_DUMP);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
  frh->family = static_cast<uint8_t>(family);
  std::vector<RtRule> out;
  sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
    if (msg->nlmsg_type != RTM_NEWRULE || mnl_nlmsg_get_payload_len(msg) < sizeof(fib_rule_hdr)) return;
    const auto* h = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(msg));
    if (h->family != family) return;
    AttrTable t;
    mnl_attr_parse(msg, sizeof(fib_rule_hdr), AttrTable::Collect, &t);
    RtRule r;
    r.family = h->family;
    r.action = h->action;
    r.table = h->table;
    t.U32(FRA_TABLE, &r.table);
    t.U32(FRA_FWMARK, &r.mark);
    t.U32(FRA_FWMASK, &r.mask);
    t.U32(FRA_PRIORITY, &r.priority);
    if (const nlattr* a = t.tb[FRA_PROTOCOL]; a && mnl_attr_validate(a, MNL_TYPE_U8) == 0) r.protocol = mnl_attr_get_u8(a);
    out.push_back(r);
  });
  return out;
}

void RtNetlink::AddFwmarkRule(const RtRule& rule) {
  const char* op = "RTM_NEWRULE";
  sock_.CheckOpen(op);
  CheckFamily(rule.family, op);
  // Mark 0 would match every unmarked packet; table 0 is "unspecified". Neither is a fwmark rule.
  if (rule.mark == 0) throw RtError(EINVAL, op, "fwmark 0 matches every unmarked packet");
  if (rule.table == 0) throw RtError(EINVAL, op, "table 0");
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
  frh->family = static_cast<uint8_t>(rule.family);
  frh->action = FR_ACT_TO_TBL;
  frh->table = LegacyTable(rule.table);
  mnl_attr_put_u32(nlh, FRA_FWMARK, rule.mark);
  mnl_attr_put_u32(nlh, FRA_FWMASK, rule.mask == 0 ? 0xffffffffu : rule.mask);
  mnl_attr_put_u32(nlh, FRA_TABLE, rule.table);
  if (rule.priority != 0) mnl_attr_put_u32(nlh, FRA_PRIORITY, rule.priority);
  mnl_attr_put_u8(nlh, FRA_PROTOCOL, kBraidRouteProtocol);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void RtNetlink::DeleteRule(const RtRule& rule) {
  const char* op = "RTM_DELRULE";
  sock_.CheckOpen(op);
  CheckFamily(rule.family, op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_DELRULE, 0);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
  frh->family = static_cast<uint8_t>(rule.family);
  frh->action = rule.action;
  frh->table = LegacyTable(rule.table);
  // The kernel deletes the first rule that matches every attribute given, so give all that
  // tell ours apart: a rule differing in priority or mask stays.
  if (rule.mark != 0 || rule.mask != 0) mnl_attr_put_u32(nlh, FRA_FWMARK, rule.mark);
  if (rule.mask != 0) mnl_attr_put_u32(nlh, FRA_FWMASK, rule.mask);
  if (rule.table != 0) mnl_attr_put_u32(nlh, FRA_TABLE, rule.table);
  mnl_attr_put_u32(nlh, FRA_PRIORITY, rule.priority);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

std::vector<RtRoute> RtNetlink::ListRoutes(int family, uint32_t table) {
  const char* op = "RTM_GETROUTE";
  CheckFamily(family, op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_GETROUTE, NLM_F_DUMP);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family);
  // Without NETLINK_GET_STRICT_CHK the kernel ignores dump filters: take all, keep the table's.
  std::vector<RtRoute> out;
  sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
    if (msg->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(msg) < sizeof(rtmsg)) return;
    const auto* h = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(msg));
    if (h->rtm_family != family) return;
    AttrTable t;
    mnl_attr_parse(msg, sizeof(rtmsg), AttrTable::Collect, &t);
    RtRoute r;
    r.table = h->rtm_table;
    t.U32(RTA_TABLE, &r.table);
    if (r.table != table) return;
    r.family = h->rtm_family;
    r.type = h->rtm_type;
    r.protocol = h->rtm_protocol;
    r.scope = h->rtm_scope;
    r.tos = h->rtm_tos;
    r.dst_len = h->rtm_dst_len;
    if (const nlattr* a = t.tb[RTA_DST]; a && mnl_attr_get_payload_len(a) == AddressLength(family)) {
      std::memcpy(r.dst.data(), mnl_attr_get_payload(a), AddressLength(family));
    }
    r.has_priority = t.U32(RTA_PRIORITY, &r.priority);
    uint32_t oif = 0;
    if (t.U32(RTA_OIF, &oif)) r.oif = static_cast<int32_t>(oif);
    out.push_back(r);
  });
  return out;
}

void RtNetlink::AddLocalDefaultRoute(int family, uint32_t table, int ifindex) {
  const char* op = "RTM_NEWROUTE";
  sock_.CheckOpen(op);
  CheckFamily(family, op);
  if (table == 0) throw RtError(EINVAL, op, "table 0");
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family);
  rtm->rtm_dst_len = 0;  // the default route: every destination is local in this table
  rtm->rtm_table = LegacyTable(table);
  rtm->rtm_protocol = kBraidRouteProtocol;
  rtm->rtm_scope = RT_SCOPE_HOST;
  rtm->rtm_type = RTN_LOCAL;
  mnl_attr_put_u32(nlh, RTA_TABLE, table);
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

void RtNetlink::DeleteRoute(const RtRoute& route) {
  const char* op = "RTM_DELROUTE";
  sock_.CheckOpen(op);
  CheckFamily(route.family, op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_DELROUTE, 0);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(route.family);
  rtm->rtm_dst_len = route.dst_len;
  rtm->rtm_tos = route.tos;
  rtm->rtm_table = LegacyTable(route.table);
  rtm->rtm_type = route.type;
  // NOWHERE = any scope; no protocol and no device, so any route of that prefix, type and
  // metric matches, multipath ones included.
  rtm->rtm_scope = RT_SCOPE_NOWHERE;
  mnl_attr_put_u32(nlh, RTA_TABLE, route.table);
  if (route.dst_len != 0) mnl_attr_put(nlh, RTA_DST, AddressLength(route.family), route.dst.data());
  if (route.has_priority) mnl_attr_put_u32(nlh, RTA_PRIORITY, route.priority);
  sock_.Transact(nlh, op, [](const nlmsghdr*) {});
}

int RtNetlink::LinkIndex(const std::string& name) {
  const char* op = "RTM_GETLINK";
  sock_.CheckOpen(op);
  if (name.empty() || name.size() >= IFNAMSIZ) throw RtError(EINVAL, op, "interface name \"" + name + "\"");
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  int index = 0;
  try {
    sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(msg) < sizeof(ifinfomsg)) return;
      index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(msg))->ifi_index;
    });
  } catch (const RtError& e) {
    if (e.err() == ENODEV) throw RtError(ENODEV, op, "no interface \"" + name + "\"");
    throw;
  }
  if (index <= 0) throw RtError(EBADMSG, op, "reply without an index for \"" + name + "\"");
  return index;
}

int RtNetlink::RouteInterface(int family, const uint8_t* addr) {
  const char* op = "RTM_GETROUTE";
  CheckFamily(family, op);
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_GETROUTE, 0);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family);
  rtm->rtm_dst_len = family == AF_INET ? 32 : 128;
  mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
  int oif = 0;
  try {
    sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type != RTM_NEWROUTE) return;
      mnl_attr_parse(
          msg, sizeof(rtmsg),
          [](const nlattr* attr, void* data) -> int {
            if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
              *static_cast<int*>(data) = static_cast<int>(mnl_attr_get_u32(attr));
            }
            return MNL_CB_OK;
          },
          &oif);
    });
  } catch (const RtError& e) {
    if (e.err() == ENETUNREACH || e.err() == EHOSTUNREACH) return 0;
    throw;
  }
  return oif;
}

std::string RtNetlink::LinkName(int ifindex) {
  const char* op = "RTM_GETLINK";
  sock_.CheckOpen(op);
  alignas(nlmsghdr) char buf[kRequestSize];
  nlmsghdr* nlh = StartRequest(buf, RTM_GETLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_index = ifindex;
  std::string name;
  sock_.Transact(nlh, op, [&](const nlmsghdr* msg) {
    if (msg->nlmsg_type != RTM_NEWLINK) return;
    AttrTable t;
    mnl_attr_parse(msg, sizeof(ifinfomsg), AttrTable::Collect, &t);
    if (const nlattr* a = t.tb[IFLA_IFNAME]; a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
      name = mnl_attr_get_str(a);
    }
  });
  if (name.empty()) throw RtError(EBADMSG, op, "reply without a name for ifindex " + std::to_string(ifindex));
  return name;
}

}  // namespace braid::kernel
