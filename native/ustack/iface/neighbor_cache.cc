#include "ustack/iface/neighbor_cache.h"

#include <utility>

namespace braid::ustack {

std::optional<MacAddress> NeighborCache::Lookup(Instant now, const IpAddress& ip) const {
  auto it = entries_.find(ip);
  if (it == entries_.end() || !it->second.mac || it->second.expires <= now) return std::nullopt;
  return it->second.mac;
}

std::vector<NeighborCache::Packet> NeighborCache::Learn(Instant now, const IpAddress& ip, const MacAddress& mac) {
  auto it = entries_.find(ip);
  if (it == entries_.end()) {
    if (entries_.size() >= o_.max_entries) {
      // Full of live entries: evict the one expiring first rather than refuse what we just learned.
      auto victim = entries_.begin();
      for (auto e = entries_.begin(); e != entries_.end(); ++e) {
        if (e->second.mac && (!victim->second.mac || e->second.expires < victim->second.expires)) victim = e;
      }
      if (!victim->second.mac) return {};  // every entry is probing: keep them
      entries_.erase(victim);
    }
    it = entries_.emplace(ip, Entry{}).first;
  }
  Entry& e = it->second;
  e.mac = mac;
  e.expires = now + o_.reachable_time;
  e.probes = 0;
  return std::exchange(e.pending, {});
}

NeighborCache::EnqueueResult NeighborCache::Enqueue(Instant now, const IpAddress& ip,
                                                    std::span<const std::uint8_t> packet) {
  auto it = entries_.find(ip);
  bool probe = false;
  if (it == entries_.end()) {
    if (entries_.size() >= o_.max_entries) return EnqueueResult::kFull;
    it = entries_.emplace(ip, Entry{}).first;
    probe = true;
  } else if (it->second.mac) {
    // Expired: resolve again, from scratch.
    it->second.mac.reset();
    it->second.probes = 0;
    probe = true;
  }
  Entry& e = it->second;
  if (e.pending.size() >= o_.max_pending) return EnqueueResult::kFull;
  e.pending.emplace_back(packet.begin(), packet.end());
  if (probe) {
    e.probes = 1;
    e.next_probe = now + o_.retransmit;
    return EnqueueResult::kProbeNow;
  }
  return EnqueueResult::kQueued;
}

std::size_t NeighborCache::Tick(Instant now, const std::function<void(const IpAddress&)>& probe) {
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!e.mac && e.next_probe <= now) {
      if (e.probes >= o_.max_probes) {
        dropped += e.pending.size();
        it = entries_.erase(it);
        continue;
      }
      ++e.probes;
      e.next_probe = now + o_.retransmit;
      probe(it->first);
    } else if (e.mac && e.expires + o_.reachable_time <= now) {
      it = entries_.erase(it);  // long expired and unused: forget it
      continue;
    }
    ++it;
  }
  return dropped;
}

std::optional<Instant> NeighborCache::NextDeadline() const {
  std::optional<Instant> next;
  for (const auto& [ip, e] : entries_) {
    if (!e.mac && (!next || e.next_probe < *next)) next = e.next_probe;
  }
  return next;
}

}  // namespace braid::ustack
