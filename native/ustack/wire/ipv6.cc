#include "ustack/wire/ipv6.h"

#include <algorithm>

#include "ustack/wire/bytes.h"
#include "ustack/wire/ethernet.h"

namespace braid::ustack::wire {

std::uint32_t Ipv6Packet::flow_label() const { return Load32(b_.data()) & 0xfffff; }
std::uint16_t Ipv6Packet::payload_len() const { return Load16(b_.data() + 4); }

IpAddress Ipv6Packet::Addr(std::size_t at) const {
  IpAddress a;
  std::copy_n(b_.data() + at, 16, a.bytes.data());
  return a;
}

WireError Ipv6Packet::Check() const {
  if (b_.size() < kHeaderLen) return WireError::kTruncated;
  if (version() != 6) return WireError::kBadVersion;
  if (b_.size() < kHeaderLen + payload_len()) return WireError::kTruncated;
  return WireError::kOk;
}

WireError Ipv6Repr::Parse(std::span<const std::uint8_t> packet, Ipv6Repr* out) {
  Ipv6Packet p(packet);
  if (WireError e = p.Check(); e != WireError::kOk) return e;
  out->src = p.src();
  out->dst = p.dst();
  out->next_header = p.next_header();
  out->hop_limit = p.hop_limit();
  out->traffic_class = p.traffic_class();
  out->flow_label = p.flow_label();
  out->payload_len = p.payload_len();
  out->payload = p.payload();
  return WireError::kOk;
}

WireError Ipv6Repr::Emit(std::span<std::uint8_t> b) const {
  if (b.size() < HeaderLen()) return WireError::kBufferTooSmall;
  Store32(b.data(), (std::uint32_t{6} << 28) | (std::uint32_t{traffic_class} << 20) | (flow_label & 0xfffff));
  Store16(b.data() + 4, payload_len);
  b[6] = next_header;
  b[7] = hop_limit;
  std::copy(src.bytes.begin(), src.bytes.end(), b.data() + 8);
  std::copy(dst.bytes.begin(), dst.bytes.end(), b.data() + 24);
  return WireError::kOk;
}

bool IsMulticast(const IpAddress& a) { return a.bytes[0] == 0xff; }

bool IsUnspecified(const IpAddress& a) { return a == IpAddress{}; }

bool IsLinkLocal(const IpAddress& a) { return a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

IpAddress SolicitedNodeMulticast(const IpAddress& a) {
  IpAddress m;
  m.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a.bytes[13], a.bytes[14], a.bytes[15]};
  return m;
}

MacAddress MulticastMac(const IpAddress& a) {
  return MacAddress{0x33, 0x33, a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]};
}

IpAddress LinkLocalFromMac(const MacAddress& mac) {
  IpAddress a;
  a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(mac[0] ^ 0x02), mac[1], mac[2], 0xff, 0xfe,
             mac[3], mac[4], mac[5]};
  return a;
}

}  // namespace braid::ustack::wire
