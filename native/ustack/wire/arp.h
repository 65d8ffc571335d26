// ARP for IPv4 over Ethernet (RFC 826). Other hardware or protocol types parse as kUnsupported.
#pragma once

#include <cstdint>
#include <span>

#include "ustack/wire/error.h"
#include "ustack/wire/ethernet.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack::wire {

enum ArpOperation : std::uint16_t { kArpRequest = 1, kArpReply = 2 };

struct ArpRepr {
  static constexpr std::size_t kLen = 28;  // Ethernet/IPv4 ARP is fixed-size
  std::uint16_t operation = kArpRequest;
  MacAddress sender_mac{};
  IpAddress sender_ip;  // IPv4 (mapped)
  MacAddress target_mac{};
  IpAddress target_ip;  // IPv4 (mapped)

  // Trailing bytes (Ethernet padding to 60) are ignored.
  static WireError Parse(std::span<const std::uint8_t> packet, ArpRepr* out);
  static constexpr std::size_t BufferLen() { return kLen; }
  WireError Emit(std::span<std::uint8_t> packet) const;
};

}  // namespace braid::ustack::wire
