#include "ustack/wire/icmpv6.h"

#include <algorithm>
#include <cstring>

#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"
#include "ustack/wire/ip_protocol.h"

namespace braid::ustack::wire {
namespace {

constexpr std::size_t kEchoHeaderLen = 8;
constexpr std::size_t kNdHeaderLen = 24;  // type, code, checksum, flags/reserved, target
constexpr std::size_t kLinkAddrOptLen = 8;

bool IsNd(std::uint8_t type) { return type == kIcmpv6NeighborSolicit || type == kIcmpv6NeighborAdvert; }

}  // namespace

WireError Icmpv6Repr::Parse(std::span<const std::uint8_t> m, const IpAddress& src, const IpAddress& dst,
                            ChecksumCheck check, Icmpv6Repr* out) {
  if (m.size() < 4) return WireError::kTruncated;
  if (check == ChecksumCheck::kVerify && UpperLayerChecksum(src, dst, kIpProtoIcmpv6, m) != 0) {
    return WireError::kBadChecksum;
  }
  const std::uint8_t type = m[0];
  *out = Icmpv6Repr{};
  out->type = type;
  if (type == kIcmpv6EchoRequest || type == kIcmpv6EchoReply) {
    if (m.size() < kEchoHeaderLen) return WireError::kTruncated;
    if (m[1] != 0) return WireError::kBadCode;
    out->ident = Load16(m.data() + 4);
    out->seq = Load16(m.data() + 6);
    out->data = m.subspan(kEchoHeaderLen);
    return WireError::kOk;
  }
  if (!IsNd(type)) return WireError::kUnsupported;
  // RFC 4861 7.1.1 / 7.1.2: code 0, ICMP length 24 or more, every option length > 0.
  if (m[1] != 0) return WireError::kBadCode;
  if (m.size() < kNdHeaderLen) return WireError::kTruncated;
  if (type == kIcmpv6NeighborAdvert) {
    out->router = (m[4] & 0x80) != 0;
    out->solicited = (m[4] & 0x40) != 0;
    out->override_flag = (m[4] & 0x20) != 0;
  }
  std::copy_n(m.data() + 8, 16, out->target.bytes.data());
  const std::uint8_t wanted = type == kIcmpv6NeighborSolicit ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
  for (std::size_t at = kNdHeaderLen; at < m.size();) {
    if (m.size() - at < 2) return WireError::kBadOption;
    const std::size_t len = std::size_t{m[at + 1]} * 8;
    if (len == 0 || len > m.size() - at) return WireError::kBadOption;
    // Only Ethernet's 6-byte address (one 8-byte unit) is understood; others are skipped.
    if (m[at] == wanted && len == kLinkAddrOptLen) {
      MacAddress mac;
      std::copy_n(m.data() + at + 2, 6, mac.data());
      out->lladdr = mac;
    }
    at += len;
  }
  return WireError::kOk;
}

std::size_t Icmpv6Repr::BufferLen() const {
  if (IsNd(type)) return kNdHeaderLen + (lladdr ? kLinkAddrOptLen : 0);
  return kEchoHeaderLen + data.size();
}

WireError Icmpv6Repr::Emit(const IpAddress& src, const IpAddress& dst, std::span<std::uint8_t> m) const {
  const std::size_t len = BufferLen();
  if (m.size() < len) return WireError::kBufferTooSmall;
  m[0] = type;
  m[1] = 0;
  Store16(m.data() + 2, 0);
  if (IsNd(type)) {
    std::uint8_t flags = 0;
    if (type == kIcmpv6NeighborAdvert) {
      flags = static_cast<std::uint8_t>((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override_flag ? 0x20 : 0));
    }
    m[4] = flags;
    m[5] = m[6] = m[7] = 0;
    std::copy(target.bytes.begin(), target.bytes.end(), m.data() + 8);
    if (lladdr) {
      m[24] = type == kIcmpv6NeighborSolicit ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
      m[25] = 1;
      std::copy(lladdr->begin(), lladdr->end(), m.data() + 26);
    }
  } else {
    Store16(m.data() + 4, ident);
    Store16(m.data() + 6, seq);
    if (!data.empty()) std::memmove(m.data() + kEchoHeaderLen, data.data(), data.size());
  }
  Store16(m.data() + 2, UpperLayerChecksum(src, dst, kIpProtoIcmpv6, m.first(len)));
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
