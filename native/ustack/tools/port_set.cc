#include "ustack/tools/port_set.h"

namespace braid::ustack::tools {

PortSet::PortSet(Eal& eal, const std::vector<PortArgs>& ports, std::int64_t pcap_epoch_micros) {
  for (const PortArgs& p : ports) {
    ports_.push_back(std::make_unique<DpdkPort>(eal, DpdkPortOptions{.name = p.dev}));
    pcaps_.push_back(p.pcap.empty() ? nullptr : std::make_unique<PcapWriter>(*ports_.back(), p.pcap, pcap_epoch_micros));
  }
}

Device& PortSet::device(std::size_t i) {
  if (pcaps_.at(i)) return *pcaps_[i];
  return *ports_.at(i);
}

void PortSet::FlushCaptures() {
  for (auto& p : pcaps_) {
    if (p) p->file().Flush();
  }
}

}  // namespace braid::ustack::tools
