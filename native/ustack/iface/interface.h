// The IP interface on one Device (smoltcp's iface): Ethernet demux, ARP and IPv6 neighbour
// discovery (answering for our addresses, resolving next hops with a small pending queue), ICMP and
// ICMPv6 echo replies, IPv4/IPv6 input validation with named drop counters, and the TCP hook:
// incoming segments go to one handler as (time, four-tuple, TcpRepr); SendTcp emits one.
// Sans-IO: it acts only inside Poll and SendTcp, on the Instant the caller hands in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "ustack/iface/drop_reason.h"
#include "ustack/iface/neighbor_cache.h"
#include "ustack/phy/device.h"
#include "ustack/wire/icmpv6.h"
#include "ustack/wire/instant.h"
#include "ustack/wire/ip_address.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack {

// An address with its on-link prefix. prefix_len counts the family's own bits (0..32 for IPv4).
struct IpCidr {
  IpAddress addr;
  std::uint8_t prefix_len = 0;
  bool Contains(const IpAddress& ip) const;
};

struct InterfaceConfig {
  std::optional<IpCidr> ipv4;
  std::optional<IpCidr> ipv6;              // a global/ULA address; fe80:: from the MAC is always added
  std::optional<IpAddress> ipv4_gateway;   // next hop for off-link IPv4
  std::optional<IpAddress> ipv6_gateway;   // next hop for off-link IPv6 (usually link-local)
  std::uint8_t ttl = 64;                   // IPv4 TTL and IPv6 hop limit of what we send
  NeighborCacheOptions neighbors{};
};

struct InterfaceCounters {
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t arp_replies = 0;       // ARP replies sent for our address
  std::uint64_t nd_advertisements = 0; // NAs sent for our addresses
  std::uint64_t echo_replies = 0;      // ICMP and ICMPv6 echo replies sent
  std::uint64_t tcp_in = 0;            // segments handed to the TCP handler
  std::uint64_t tcp_out = 0;           // segments SendTcp sent or queued
};

enum class SendResult : std::uint8_t {
  kSent,     // the frame went to the device
  kQueued,   // waiting for the neighbour to resolve; sent by a later Poll, or dropped (kTxUnresolved)
  kDropped,  // see drops(): no route, too big, device full, pending queue full, bad segment
};

class Interface {
 public:
  using TcpHandler = std::function<void(Instant now, const FourTuple& tuple, const TcpRepr& segment)>;

  // `device` must outlive the interface.
  Interface(Device& device, const InterfaceConfig& config);

  // Incoming TCP goes here; the Repr's spans point into the received frame and are valid only
  // during the call. The handler may call SendTcp.
  void set_tcp_handler(TcpHandler handler) { tcp_handler_ = std::move(handler); }
  // Unicast addresses of the same host on other interfaces, accepted here too (the weak host
  // model, Linux's default: an MPTCP subflow may reach an address over another path's link).
  void set_host_address_filter(std::function<bool(const IpAddress&)> f) { host_address_ = std::move(f); }

  // Processes up to `budget` received frames, then the neighbour timers. Returns the frames read.
  std::size_t Poll(Instant now, std::size_t budget = 64);

  // Emits `segment` from tuple.local to tuple.remote (ports taken from the tuple), resolving the
  // next hop first. Uses the time of the latest Poll (or the handler's `now` when called from it).
  SendResult SendTcp(const FourTuple& tuple, const TcpRepr& segment);

  // When Poll next has timer work (a neighbour probe), if any.
  std::optional<Instant> NextDeadline() const { return neighbors_.NextDeadline(); }

  bool IsOurAddress(const IpAddress& ip) const;
  bool IsHostAddress(const IpAddress& ip) const { return host_address_ && host_address_(ip); }
  const IpAddress& link_local() const { return link_local_; }
  const InterfaceCounters& counters() const { return counters_; }
  const IfaceDropCounters& drops() const { return drops_; }
  std::uint64_t drops(IfaceDrop d) const { return drops_[static_cast<std::size_t>(d)]; }

 private:
  void OnFrame(std::span<const std::uint8_t> frame);
  void OnArp(std::span<const std::uint8_t> packet);
  void OnIpv4(std::span<const std::uint8_t> packet);
  void OnIpv6(std::span<const std::uint8_t> packet);
  void OnIcmpv4(const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> message);
  void OnIcmpv6(const IpAddress& src, const IpAddress& dst, std::uint8_t hop_limit,
                std::span<const std::uint8_t> message);
  void OnTcp(const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment);

  // Output. Each builds an IP packet in tx_ after room for the Ethernet header, then SendIp.
  SendResult SendIcmpv4Echo(const IpAddress& src, const IpAddress& dst, std::uint16_t ident, std::uint16_t seq,
                            std::span<const std::uint8_t> data);
  SendResult SendIcmpv6(const IpAddress& src, const IpAddress& dst, std::uint8_t hop_limit,
                        const wire::Icmpv6Repr& message);
  // Sends tx_[14, 14 + ip_len) towards `dst`: routes, resolves (or queues), frames, transmits.
  SendResult SendIp(const IpAddress& dst, std::size_t ip_len);
  SendResult TransmitFrame(const MacAddress& dst_mac, std::uint16_t ethertype, std::size_t ip_len);
  void SendSolicitation(const IpAddress& target);
  std::optional<IpAddress> NextHop(const IpAddress& dst) const;
  bool IsOurMulticast(const IpAddress& ip) const;
  void Drop(IfaceDrop d) { ++drops_[static_cast<std::size_t>(d)]; }

  Device& dev_;
  InterfaceConfig cfg_;
  MacAddress mac_;
  DeviceCapabilities caps_;
  IpAddress link_local_;
  NeighborCache neighbors_;
  TcpHandler tcp_handler_;
  std::function<bool(const IpAddress&)> host_address_;
  Instant now_{};
  std::uint16_t next_ident_ = 1;
  std::vector<std::uint8_t> tx_;
  InterfaceCounters counters_{};
  IfaceDropCounters drops_{};
};

}  // namespace braid::ustack
