// What the stack needs from a network device: whole Ethernet frames in and out.
// Implemented by the DPDK port, the in-memory link, and the pcap-writing wrapper.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include "ustack/wire/instant.h"

namespace braid::ustack {

using MacAddress = std::array<std::uint8_t, 6>;

struct DeviceCapabilities {
  std::uint16_t mtu = 1500;          // IP MTU: the largest IP packet, without the Ethernet header
  bool rx_checksum_verified = false;  // the port verified IP/TCP checksums of received frames
  bool tx_checksum_offload = false;   // the port fills IP/TCP checksums of transmitted frames
};

class Device {
 public:
  virtual ~Device() = default;
  virtual MacAddress mac() const = 0;
  virtual DeviceCapabilities capabilities() const = 0;
  // Hands each received frame (at most `max`) to `on_frame`; the span is valid only during the call.
  // Returns the number of frames handed over.
  virtual std::size_t Receive(Instant now, std::size_t max,
                              const std::function<void(std::span<const std::uint8_t>)>& on_frame) = 0;
  // Queues one frame for transmission; false when the device has no room (the caller retries later).
  // A device may hold accepted frames back to send them in a batch until Flush.
  virtual bool Transmit(Instant now, std::span<const std::uint8_t> frame) = 0;
  // Sends whatever Transmit held back. The stack calls it at the end of each Poll.
  virtual void Flush(Instant) {}
};

}  // namespace braid::ustack
