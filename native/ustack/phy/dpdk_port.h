// A DPDK ethdev port as a Device: one RX and one TX queue, frames copied between mbufs and the
// caller's spans. Any port the EAL has (a --vdev such as net_af_packet, net_tap, net_memif, or a
// PCI NIC) is found by its name. Checksums: this port requests no offloads, so it reports
// rx_checksum_verified = false and tx_checksum_offload = false, and the stack does both in software.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ustack/phy/device.h"
#include "ustack/phy/dpdk_eal.h"

struct rte_mempool;
struct rte_mbuf;

namespace braid::ustack {

struct DpdkPortOptions {
  std::string name;            // ethdev name, e.g. "net_af_packet0" (the --vdev name before the comma)
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  std::uint32_t mbufs = 4095;  // pool size (2^n - 1 is optimal for the ring)
  bool promiscuous = false;
};

struct DpdkPortStats {
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_full = 0;        // Transmit refused: the TX ring was full
  std::uint64_t tx_no_mbuf = 0;     // Transmit refused: the pool was empty
  std::uint64_t tx_too_long = 0;    // Transmit refused: frame longer than an mbuf's room
};

// The driver's own counters (rte_eth_stats): frames it lost before we could read them.
struct DpdkPortDriverStats {
  std::uint64_t imissed = 0;    // dropped for lack of room in the RX ring (af_packet: the kernel's tp_drops)
  std::uint64_t ierrors = 0;    // erroneous frames received
  std::uint64_t oerrors = 0;    // frames the driver failed to transmit
  std::uint64_t rx_nombuf = 0;  // RX mbuf allocation failures
};

class DpdkPort : public Device {
 public:
  // Configures and starts the port. Throws std::runtime_error naming the port and the failing
  // call. The EAL (`eal`) must have been initialized with the port's vdev.
  DpdkPort(Eal& eal, const DpdkPortOptions& options);
  ~DpdkPort() override;
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  MacAddress mac() const override { return mac_; }
  DeviceCapabilities capabilities() const override { return caps_; }
  std::size_t Receive(Instant now, std::size_t max,
                      const std::function<void(std::span<const std::uint8_t>)>& on_frame) override;
  // Frames are batched (up to one burst) and handed to the driver by Flush or when the batch is
  // full: one tx_burst per batch (for net_af_packet, one sendto() per batch instead of per frame).
  bool Transmit(Instant now, std::span<const std::uint8_t> frame) override;
  void Flush(Instant now) override;

  std::uint16_t port_id() const { return port_; }
  const std::string& driver_name() const { return driver_; }
  const DpdkPortStats& stats() const { return stats_; }
  // Reads the driver's counters (zeros when it has none).
  DpdkPortDriverStats driver_stats() const;
  // The link as the driver reports it now (rte_eth_link_get_nowait; false when it cannot tell).
  // Some drivers never change it after start (net_af_packet in DPDK 22.11: its link_update is a
  // no-op), see tools/link_monitor.h.
  bool link_up() const;

 private:
  std::string name_;
  std::string driver_;
  std::uint16_t port_ = 0;
  rte_mempool* pool_ = nullptr;
  MacAddress mac_{};
  DeviceCapabilities caps_{};
  DpdkPortStats stats_{};
  std::vector<std::uint8_t> scratch_;  // linearizes multi-segment mbufs
  std::vector<rte_mbuf*> tx_batch_;    // accepted by Transmit, not yet given to the driver
  bool started_ = false;
};

}  // namespace braid::ustack
