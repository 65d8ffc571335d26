// braid-ustack's DPDK ports, one per interface (one per MPTCP path), each wrapped in its capture
// when --pcap asked for one. Ports and captures live as long as the PortSet; the Stack's interfaces
// use device(i).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ustack/phy/dpdk_eal.h"
#include "ustack/phy/dpdk_port.h"
#include "ustack/phy/pcap_writer.h"
#include "ustack/tools/ustack_args.h"

namespace braid::ustack::tools {

class PortSet {
 public:
  // Starts every port of `ports` (throws std::runtime_error naming the port that failed) and opens
  // the captures; `pcap_epoch_micros` turns the stack's monotonic Instants into wall-clock stamps.
  PortSet(Eal& eal, const std::vector<PortArgs>& ports, std::int64_t pcap_epoch_micros);
  PortSet(const PortSet&) = delete;
  PortSet& operator=(const PortSet&) = delete;

  std::size_t size() const { return ports_.size(); }
  DpdkPort& port(std::size_t i) { return *ports_.at(i); }
  const DpdkPort& port(std::size_t i) const { return *ports_.at(i); }
  // What interface i sends and receives through: the port, or the capture around it.
  Device& device(std::size_t i);
  void FlushCaptures();

 private:
  std::vector<std::unique_ptr<DpdkPort>> ports_;
  std::vector<std::unique_ptr<PcapWriter>> pcaps_;  // null where no capture was asked for
};

}  // namespace braid::ustack::tools
