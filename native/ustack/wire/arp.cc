#include "ustack/wire/arp.h"

#include <algorithm>

#include "ustack/wire/bytes.h"

namespace braid::ustack::wire {
namespace {

constexpr std::uint16_t kHardwareEthernet = 1;

IpAddress LoadV4(const std::uint8_t* p) { return IpAddress::V4(p[0], p[1], p[2], p[3]); }
void StoreV4(std::uint8_t* p, const IpAddress& ip) { std::copy_n(ip.bytes.data() + 12, 4, p); }

}  // namespace

WireError ArpRepr::Parse(std::span<const std::uint8_t> b, ArpRepr* out) {
  if (b.size() < 8) return WireError::kTruncated;
  if (Load16(b.data()) != kHardwareEthernet || Load16(b.data() + 2) != kEtherTypeIpv4 || b[4] != 6 || b[5] != 4) {
    return WireError::kUnsupported;
  }
  if (b.size() < kLen) return WireError::kTruncated;
  out->operation = Load16(b.data() + 6);
  std::copy_n(b.data() + 8, 6, out->sender_mac.data());
  out->sender_ip = LoadV4(b.data() + 14);
  std::copy_n(b.data() + 18, 6, out->target_mac.data());
  out->target_ip = LoadV4(b.data() + 24);
  return WireError::kOk;
}

WireError ArpRepr::Emit(std::span<std::uint8_t> b) const {
  if (b.size() < kLen) return WireError::kBufferTooSmall;
  Store16(b.data(), kHardwareEthernet);
  Store16(b.data() + 2, kEtherTypeIpv4);
  b[4] = 6;
  b[5] = 4;
  Store16(b.data() + 6, operation);
  std::copy(sender_mac.begin(), sender_mac.end(), b.data() + 8);
  StoreV4(b.data() + 14, sender_ip);
  std::copy(target_mac.begin(), target_mac.end(), b.data() + 18);
  StoreV4(b.data() + 24, target_ip);
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
