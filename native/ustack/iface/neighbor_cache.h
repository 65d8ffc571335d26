// IP -> MAC for both ARP (IPv4) and neighbour discovery (IPv6), with a small queue of packets per
// unresolved neighbour. Deliberately simpler than RFC 4861's NUD: an entry is INCOMPLETE (probing,
// packets queued) or REACHABLE until `reachable_time` passes, after which the next packet resolves
// it again. Pure: no I/O; the interface sends the probes and the released packets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "ustack/phy/device.h"
#include "ustack/wire/instant.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack {

struct NeighborCacheOptions {
  Duration reachable_time = Duration::Millis(60'000);
  Duration retransmit = Duration::Millis(1'000);  // between probes (RFC 4861 RETRANS_TIMER)
  int max_probes = 3;                             // then queued packets are dropped (MAX_MULTICAST_SOLICIT)
  std::size_t max_pending = 8;                    // packets queued per unresolved neighbour
  std::size_t max_entries = 512;
};

class NeighborCache {
 public:
  using Packet = std::vector<std::uint8_t>;  // an IP packet, without its Ethernet header

  explicit NeighborCache(const NeighborCacheOptions& options = {}) : o_(options) {}

  // The MAC for `ip` if known and not expired.
  std::optional<MacAddress> Lookup(Instant now, const IpAddress& ip) const;
  bool Contains(const IpAddress& ip) const { return entries_.count(ip) != 0; }

  // Records `ip` at `mac` (an ARP request or reply for us, an NS with a source link-layer address,
  // an NA answering our probe) and returns the packets that were waiting for it.
  std::vector<Packet> Learn(Instant now, const IpAddress& ip, const MacAddress& mac);

  enum class EnqueueResult : std::uint8_t {
    kProbeNow,   // queued; first packet for this neighbour: send a solicitation now
    kQueued,     // queued behind a probe already under way
    kFull,       // not queued: this neighbour's queue or the whole cache is full
  };
  EnqueueResult Enqueue(Instant now, const IpAddress& ip, std::span<const std::uint8_t> packet);

  // Runs the probe timers: calls `probe(ip)` for each INCOMPLETE entry whose retransmit time came,
  // and drops entries that used up their probes. Returns the number of packets dropped with them.
  std::size_t Tick(Instant now, const std::function<void(const IpAddress&)>& probe);
  // The next time Tick has work, if any.
  std::optional<Instant> NextDeadline() const;

 private:
  struct Entry {
    std::optional<MacAddress> mac;  // nullopt while INCOMPLETE
    Instant expires;                // REACHABLE until then
    Instant next_probe;             // INCOMPLETE: when to probe again
    int probes = 0;
    std::vector<Packet> pending;
  };
  NeighborCacheOptions o_;
  std::map<IpAddress, Entry> entries_;
};

}  // namespace braid::ustack
