// Ethernet II frames (IEEE 802.3 with an EtherType): the view and its Repr. No VLAN tags: a tagged
// frame parses with EtherType 0x8100 and the interface drops it as an unknown type.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "ustack/wire/bytes.h"
#include "ustack/wire/error.h"

namespace braid::ustack {
// Also declared in phy/device.h: the same alias, so either header may come first.
using MacAddress = std::array<std::uint8_t, 6>;
}  // namespace braid::ustack

namespace braid::ustack::wire {

enum EtherType : std::uint16_t {
  kEtherTypeIpv4 = 0x0800,
  kEtherTypeArp = 0x0806,
  kEtherTypeIpv6 = 0x86dd,
};

inline constexpr MacAddress kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline bool IsMulticastMac(const MacAddress& m) { return (m[0] & 0x01) != 0; }  // broadcast included

class EthernetFrame {
 public:
  static constexpr std::size_t kHeaderLen = 14;
  explicit EthernetFrame(std::span<const std::uint8_t> bytes) : b_(bytes) {}
  WireError Check() const { return b_.size() < kHeaderLen ? WireError::kTruncated : WireError::kOk; }
  MacAddress dst() const { return Mac(0); }
  MacAddress src() const { return Mac(6); }
  std::uint16_t ethertype() const { return Load16(b_.data() + 12); }
  std::span<const std::uint8_t> payload() const { return b_.subspan(kHeaderLen); }

 private:
  MacAddress Mac(std::size_t at) const {
    MacAddress m;
    for (std::size_t i = 0; i < 6; ++i) m[i] = b_[at + i];
    return m;
  }
  std::span<const std::uint8_t> b_;
};

struct EthernetRepr {
  MacAddress dst{};
  MacAddress src{};
  std::uint16_t ethertype = 0;
  std::span<const std::uint8_t> payload;  // set by Parse; Emit writes the header only

  static WireError Parse(std::span<const std::uint8_t> frame, EthernetRepr* out);
  static constexpr std::size_t HeaderLen() { return EthernetFrame::kHeaderLen; }
  std::size_t BufferLen(std::size_t payload_len) const { return HeaderLen() + payload_len; }
  // Writes the 14-byte header at the start of `frame`; the payload goes at frame.subspan(HeaderLen()).
  WireError Emit(std::span<std::uint8_t> frame) const;
};

}  // namespace braid::ustack::wire
