#include "ustack/iface/interface.h"

#include <algorithm>
#include <cstring>

#include "ustack/wire/arp.h"
#include "ustack/wire/ethernet.h"
#include "ustack/wire/icmpv4.h"
#include "ustack/wire/ip_protocol.h"
#include "ustack/wire/ipv4.h"
#include "ustack/wire/ipv6.h"
#include "ustack/wire/tcp.h"

namespace braid::ustack {

using namespace wire;

namespace {

constexpr std::size_t kEthLen = EthernetFrame::kHeaderLen;
constexpr std::size_t kMinFrame = 60;  // Ethernet minimum without FCS: shorter frames are padded
constexpr std::uint8_t kNdHopLimit = 255;  // RFC 4861 7.1: ND messages must arrive with 255

IpAddress AllNodes() {
  IpAddress a;
  a.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a;
}

bool IsV4Broadcast(const IpAddress& a) {
  return a.is_v4() && a.bytes[12] == 255 && a.bytes[13] == 255 && a.bytes[14] == 255 && a.bytes[15] == 255;
}
bool IsV4Multicast(const IpAddress& a) { return a.is_v4() && (a.bytes[12] & 0xf0) == 0xe0; }

ChecksumCheck CheckFor(const DeviceCapabilities& caps) {
  return caps.rx_checksum_verified ? ChecksumCheck::kSkip : ChecksumCheck::kVerify;
}

}  // namespace

bool IpCidr::Contains(const IpAddress& ip) const {
  if (ip.is_v4() != addr.is_v4()) return false;
  const std::size_t base = addr.is_v4() ? 12 : 0;
  std::size_t bits = prefix_len;
  for (std::size_t i = base; i < 16 && bits > 0; ++i) {
    const std::size_t take = std::min<std::size_t>(8, bits);
    const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((ip.bytes[i] & mask) != (addr.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

Interface::Interface(Device& device, const InterfaceConfig& config)
    : dev_(device),
      cfg_(config),
      mac_(device.mac()),
      caps_(device.capabilities()),
      link_local_(LinkLocalFromMac(mac_)),
      neighbors_(config.neighbors),
      tx_(kEthLen + std::max<std::size_t>(caps_.mtu, kMinFrame)) {}

bool Interface::IsOurAddress(const IpAddress& ip) const {
  if (ip == link_local_) return true;
  if (cfg_.ipv4 && cfg_.ipv4->addr == ip) return true;
  return cfg_.ipv6 && cfg_.ipv6->addr == ip;
}

bool Interface::IsOurMulticast(const IpAddress& ip) const {
  if (ip == AllNodes() || ip == SolicitedNodeMulticast(link_local_)) return true;
  return cfg_.ipv6 && ip == SolicitedNodeMulticast(cfg_.ipv6->addr);
}

std::size_t Interface::Poll(Instant now, std::size_t budget) {
  now_ = now;
  const std::size_t n = dev_.Receive(now, budget, [this](std::span<const std::uint8_t> f) { OnFrame(f); });
  const std::size_t dropped = neighbors_.Tick(now, [this](const IpAddress& ip) { SendSolicitation(ip); });
  drops_[static_cast<std::size_t>(IfaceDrop::kTxUnresolved)] += dropped;
  return n;
}

// ---- Input ----------------------------------------------------------------------------------

void Interface::OnFrame(std::span<const std::uint8_t> frame) {
  ++counters_.rx_frames;
  EthernetRepr eth;
  if (EthernetRepr::Parse(frame, &eth) != WireError::kOk) return Drop(IfaceDrop::kEthernetTruncated);
  if (eth.dst != mac_ && !IsMulticastMac(eth.dst)) return Drop(IfaceDrop::kEthernetNotForUs);
  switch (eth.ethertype) {
    case kEtherTypeArp: return OnArp(eth.payload);
    case kEtherTypeIpv4: return OnIpv4(eth.payload);
    case kEtherTypeIpv6: return OnIpv6(eth.payload);
    default: return Drop(IfaceDrop::kEthernetUnknownType);
  }
}

void Interface::OnArp(std::span<const std::uint8_t> packet) {
  ArpRepr arp;
  if (ArpRepr::Parse(packet, &arp) != WireError::kOk) return Drop(IfaceDrop::kArpMalformed);
  if (arp.operation != kArpRequest && arp.operation != kArpReply) return Drop(IfaceDrop::kArpBadOperation);
  // Weak host, as Linux (arp_ignore=0): any of the host's addresses is answered on any interface,
  // so a peer's subflow bound to this link may reach an address of another path.
  const bool for_us = (cfg_.ipv4 && arp.target_ip == cfg_.ipv4->addr) || IsHostAddress(arp.target_ip);
  // RFC 826 "Packet Reception": update an existing entry from any ARP (merge flag); add one only
  // when the packet is for us.
  if (for_us || neighbors_.Contains(arp.sender_ip)) {
    for (auto& pkt : neighbors_.Learn(now_, arp.sender_ip, arp.sender_mac)) {
      std::memcpy(tx_.data() + kEthLen, pkt.data(), pkt.size());
      TransmitFrame(arp.sender_mac, kEtherTypeIpv4, pkt.size());
    }
  }
  if (!for_us) return Drop(IfaceDrop::kArpNotForUs);
  if (arp.operation != kArpRequest) return;
  ArpRepr reply;
  reply.operation = kArpReply;
  reply.sender_mac = mac_;
  reply.sender_ip = arp.target_ip;
  reply.target_mac = arp.sender_mac;
  reply.target_ip = arp.sender_ip;
  reply.Emit(std::span(tx_).subspan(kEthLen));
  if (TransmitFrame(arp.sender_mac, kEtherTypeArp, ArpRepr::kLen) == SendResult::kSent) ++counters_.arp_replies;
}

void Interface::OnIpv4(std::span<const std::uint8_t> packet) {
  Ipv4Repr ip;
  switch (Ipv4Repr::Parse(packet, CheckFor(caps_), &ip)) {
    case WireError::kOk: break;
    case WireError::kBadChecksum: return Drop(IfaceDrop::kIpv4BadChecksum);
    default: return Drop(IfaceDrop::kIpv4Malformed);
  }
  if (IsV4Broadcast(ip.src) || IsV4Multicast(ip.src)) return Drop(IfaceDrop::kIpv4BadSource);
  const bool other_iface = ip.protocol == kIpProtoTcp && IsHostAddress(ip.dst);
  if ((!cfg_.ipv4 || ip.dst != cfg_.ipv4->addr) && !other_iface) {
    if (IsV4Broadcast(ip.dst) || IsV4Multicast(ip.dst)) {
      if (ip.protocol == kIpProtoIcmp) return Drop(IfaceDrop::kIcmpEchoToMulticast);
    }
    return Drop(IfaceDrop::kIpv4NotForUs);
  }
  if (ip.more_fragments || ip.frag_offset != 0) return Drop(IfaceDrop::kIpv4Fragment);
  switch (ip.protocol) {
    case kIpProtoIcmp: return OnIcmpv4(ip.src, ip.dst, ip.payload);
    case kIpProtoTcp: return OnTcp(ip.src, ip.dst, ip.payload);
    default: return Drop(IfaceDrop::kIpv4UnknownProtocol);
  }
}

void Interface::OnIcmpv4(const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> message) {
  Icmpv4Repr icmp;
  switch (Icmpv4Repr::Parse(message, CheckFor(caps_), &icmp)) {
    case WireError::kOk: break;
    case WireError::kBadChecksum: return Drop(IfaceDrop::kIcmpv4BadChecksum);
    case WireError::kUnsupported: return Drop(IfaceDrop::kIcmpv4Unhandled);
    default: return Drop(IfaceDrop::kIcmpv4Malformed);
  }
  if (icmp.type != kIcmpv4EchoRequest) return Drop(IfaceDrop::kIcmpv4Unhandled);
  if (SendIcmpv4Echo(dst, src, icmp.ident, icmp.seq, icmp.data) != SendResult::kDropped) ++counters_.echo_replies;
}

void Interface::OnIpv6(std::span<const std::uint8_t> packet) {
  Ipv6Repr ip;
  if (Ipv6Repr::Parse(packet, &ip) != WireError::kOk) return Drop(IfaceDrop::kIpv6Malformed);
  if (IsMulticast(ip.src)) return Drop(IfaceDrop::kIpv6BadSource);
  const bool other_iface = ip.next_header == kIpProtoTcp && IsHostAddress(ip.dst);
  if (!IsOurAddress(ip.dst) && !IsOurMulticast(ip.dst) && !other_iface) return Drop(IfaceDrop::kIpv6NotForUs);
  switch (ip.next_header) {
    case kIpProtoIcmpv6: return OnIcmpv6(ip.src, ip.dst, ip.hop_limit, ip.payload);
    case kIpProtoTcp:
      if (IsMulticast(ip.dst)) return Drop(IfaceDrop::kIpv6NotForUs);  // TCP is unicast only
      return OnTcp(ip.src, ip.dst, ip.payload);
    default: return Drop(IfaceDrop::kIpv6UnknownNextHeader);
  }
}

void Interface::OnIcmpv6(const IpAddress& src, const IpAddress& dst, std::uint8_t hop_limit,
                         std::span<const std::uint8_t> message) {
  Icmpv6Repr m;
  // ICMPv6 checksums are never offloaded by the devices we know, but honour the flag all the same.
  switch (Icmpv6Repr::Parse(message, src, dst, CheckFor(caps_), &m)) {
    case WireError::kOk: break;
    case WireError::kBadChecksum: return Drop(IfaceDrop::kIcmpv6BadChecksum);
    case WireError::kUnsupported: return Drop(IfaceDrop::kIcmpv6Unhandled);
    default: return Drop(IfaceDrop::kIcmpv6Malformed);
  }
  switch (m.type) {
    case kIcmpv6EchoRequest: {
      if (IsMulticast(dst)) return Drop(IfaceDrop::kIcmpEchoToMulticast);
      Icmpv6Repr reply;
      reply.type = kIcmpv6EchoReply;
      reply.ident = m.ident;
      reply.seq = m.seq;
      reply.data = m.data;
      if (SendIcmpv6(dst, src, cfg_.ttl, reply) != SendResult::kDropped) ++counters_.echo_replies;
      return;
    }
    case kIcmpv6NeighborSolicit: {
      // RFC 4861 7.1.1: hop limit 255, target not multicast; from :: only to a solicited-node
      // group and without a source link-layer address option.
      if (hop_limit != kNdHopLimit || IsMulticast(m.target)) return Drop(IfaceDrop::kNdInvalid);
      const bool dad = IsUnspecified(src);
      if (dad && (!IsMulticast(dst) || m.lladdr)) return Drop(IfaceDrop::kNdInvalid);
      if (!IsOurAddress(m.target)) return Drop(IfaceDrop::kNdNotForUs);
      if (!dad && m.lladdr) {
        for (auto& pkt : neighbors_.Learn(now_, src, *m.lladdr)) {
          std::memcpy(tx_.data() + kEthLen, pkt.data(), pkt.size());
          TransmitFrame(*m.lladdr, kEtherTypeIpv6, pkt.size());
        }
      }
      // RFC 4861 7.2.4: answer to the soliciting node (solicited, override), or to all-nodes
      // (not solicited) for a duplicate address detection probe.
      Icmpv6Repr na;
      na.type = kIcmpv6NeighborAdvert;
      na.target = m.target;
      na.solicited = !dad;
      na.override_flag = true;
      na.lladdr = mac_;
      if (SendIcmpv6(m.target, dad ? AllNodes() : src, kNdHopLimit, na) != SendResult::kDropped) {
        ++counters_.nd_advertisements;
      }
      return;
    }
    case kIcmpv6NeighborAdvert: {
      // RFC 4861 7.1.2: hop limit 255, target not multicast, S clear when sent to a multicast group.
      if (hop_limit != kNdHopLimit || IsMulticast(m.target) || (IsMulticast(dst) && m.solicited)) {
        return Drop(IfaceDrop::kNdInvalid);
      }
      // 7.2.5: only entries we already have are updated; an NA without the address tells nothing.
      if (m.lladdr && neighbors_.Contains(m.target)) {
        for (auto& pkt : neighbors_.Learn(now_, m.target, *m.lladdr)) {
          std::memcpy(tx_.data() + kEthLen, pkt.data(), pkt.size());
          TransmitFrame(*m.lladdr, kEtherTypeIpv6, pkt.size());
        }
      }
      return;
    }
    default: return Drop(IfaceDrop::kIcmpv6Unhandled);
  }
}

void Interface::OnTcp(const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment) {
  TcpRepr seg;
  switch (ParseTcp(segment, src, dst, CheckFor(caps_), &seg)) {
    case WireError::kOk: break;
    case WireError::kBadChecksum: return Drop(IfaceDrop::kTcpBadChecksum);
    default: return Drop(IfaceDrop::kTcpMalformed);
  }
  if (!tcp_handler_) return Drop(IfaceDrop::kTcpNoHandler);
  ++counters_.tcp_in;
  const FourTuple tuple{Endpoint{dst, seg.dst_port}, Endpoint{src, seg.src_port}};
  tcp_handler_(now_, tuple, seg);
}

// ---- Output ---------------------------------------------------------------------------------

SendResult Interface::SendTcp(const FourTuple& tuple, const TcpRepr& segment) {
  const IpAddress& src = tuple.local.addr;
  const IpAddress& dst = tuple.remote.addr;
  TcpRepr seg = segment;
  seg.src_port = tuple.local.port;
  seg.dst_port = tuple.remote.port;
  const bool v4 = src.is_v4();
  const std::size_t ip_hlen = v4 ? Ipv4Repr::HeaderLen() : Ipv6Repr::HeaderLen();
  const std::size_t tcp_len = TcpBufferLen(seg);
  if (ip_hlen + tcp_len > caps_.mtu) {
    Drop(IfaceDrop::kTxTooBig);
    return SendResult::kDropped;
  }
  std::span<std::uint8_t> ip_out = std::span(tx_).subspan(kEthLen);
  if (EmitTcp(seg, src, dst, ip_out.subspan(ip_hlen)) != WireError::kOk) {
    Drop(IfaceDrop::kTxBadSegment);
    return SendResult::kDropped;
  }
  if (v4) {
    Ipv4Repr ip;
    ip.src = src;
    ip.dst = dst;
    ip.protocol = kIpProtoTcp;
    ip.ttl = cfg_.ttl;
    ip.ident = next_ident_++;
    ip.payload_len = static_cast<std::uint16_t>(tcp_len);
    ip.Emit(ip_out);
  } else {
    Ipv6Repr ip;
    ip.src = src;
    ip.dst = dst;
    ip.next_header = kIpProtoTcp;
    ip.hop_limit = cfg_.ttl;
    ip.payload_len = static_cast<std::uint16_t>(tcp_len);
    ip.Emit(ip_out);
  }
  const SendResult r = SendIp(dst, ip_hlen + tcp_len);
  if (r != SendResult::kDropped) ++counters_.tcp_out;
  return r;
}

SendResult Interface::SendIcmpv4Echo(const IpAddress& src, const IpAddress& dst, std::uint16_t ident,
                                     std::uint16_t seq, std::span<const std::uint8_t> data) {
  Icmpv4Repr icmp;
  icmp.type = kIcmpv4EchoReply;
  icmp.ident = ident;
  icmp.seq = seq;
  icmp.data = data;
  const std::size_t len = Ipv4Repr::HeaderLen() + icmp.BufferLen();
  if (len > caps_.mtu) {
    Drop(IfaceDrop::kTxTooBig);
    return SendResult::kDropped;
  }
  std::span<std::uint8_t> ip_out = std::span(tx_).subspan(kEthLen);
  icmp.Emit(ip_out.subspan(Ipv4Repr::HeaderLen()));
  Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = kIpProtoIcmp;
  ip.ttl = cfg_.ttl;
  ip.ident = next_ident_++;
  ip.payload_len = static_cast<std::uint16_t>(icmp.BufferLen());
  ip.Emit(ip_out);
  return SendIp(dst, len);
}

SendResult Interface::SendIcmpv6(const IpAddress& src, const IpAddress& dst, std::uint8_t hop_limit,
                                 const Icmpv6Repr& message) {
  const std::size_t len = Ipv6Repr::HeaderLen() + message.BufferLen();
  if (len > caps_.mtu) {
    Drop(IfaceDrop::kTxTooBig);
    return SendResult::kDropped;
  }
  std::span<std::uint8_t> ip_out = std::span(tx_).subspan(kEthLen);
  message.Emit(src, dst, ip_out.subspan(Ipv6Repr::HeaderLen()));
  Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = kIpProtoIcmpv6;
  ip.hop_limit = hop_limit;
  ip.payload_len = static_cast<std::uint16_t>(message.BufferLen());
  ip.Emit(ip_out);
  return SendIp(dst, len);
}

std::optional<IpAddress> Interface::NextHop(const IpAddress& dst) const {
  if (dst.is_v4()) {
    if (cfg_.ipv4 && cfg_.ipv4->Contains(dst)) return dst;
    return cfg_.ipv4_gateway;
  }
  if (IsLinkLocal(dst) || IsMulticast(dst) || (cfg_.ipv6 && cfg_.ipv6->Contains(dst))) return dst;
  return cfg_.ipv6_gateway;
}

SendResult Interface::SendIp(const IpAddress& dst, std::size_t ip_len) {
  const bool v4 = dst.is_v4();
  const std::uint16_t type = v4 ? kEtherTypeIpv4 : kEtherTypeIpv6;
  if (!v4 && IsMulticast(dst)) return TransmitFrame(MulticastMac(dst), type, ip_len);
  if (v4 && IsV4Broadcast(dst)) return TransmitFrame(kBroadcastMac, type, ip_len);
  const std::optional<IpAddress> hop = NextHop(dst);
  if (!hop) {
    Drop(IfaceDrop::kTxNoRoute);
    return SendResult::kDropped;
  }
  if (auto mac = neighbors_.Lookup(now_, *hop)) return TransmitFrame(*mac, type, ip_len);
  switch (neighbors_.Enqueue(now_, *hop, std::span(tx_).subspan(kEthLen, ip_len))) {
    case NeighborCache::EnqueueResult::kProbeNow:
      SendSolicitation(*hop);
      return SendResult::kQueued;
    case NeighborCache::EnqueueResult::kQueued:
      return SendResult::kQueued;
    case NeighborCache::EnqueueResult::kFull:
      break;
  }
  Drop(IfaceDrop::kTxPendingFull);
  return SendResult::kDropped;
}

SendResult Interface::TransmitFrame(const MacAddress& dst_mac, std::uint16_t ethertype, std::size_t ip_len) {
  EthernetRepr eth;
  eth.dst = dst_mac;
  eth.src = mac_;
  eth.ethertype = ethertype;
  eth.Emit(tx_);
  std::size_t len = kEthLen + ip_len;
  if (len < kMinFrame) {
    std::fill(tx_.begin() + static_cast<std::ptrdiff_t>(len), tx_.begin() + kMinFrame, 0);
    len = kMinFrame;
  }
  if (!dev_.Transmit(now_, std::span(tx_).first(len))) {
    Drop(IfaceDrop::kTxDeviceFull);
    return SendResult::kDropped;
  }
  ++counters_.tx_frames;
  return SendResult::kSent;
}

void Interface::SendSolicitation(const IpAddress& target) {
  // Probes are built in their own buffer: SendIp may be mid-way through tx_ when it asks for one.
  std::vector<std::uint8_t> saved(tx_);
  if (target.is_v4()) {
    if (cfg_.ipv4) {
      ArpRepr req;
      req.operation = kArpRequest;
      req.sender_mac = mac_;
      req.sender_ip = cfg_.ipv4->addr;
      req.target_ip = target;
      req.Emit(std::span(tx_).subspan(kEthLen));
      TransmitFrame(kBroadcastMac, kEtherTypeArp, ArpRepr::kLen);
    }
  } else {
    // RFC 4861 7.2.2: from one of our addresses (the global one when the target is on its prefix).
    const IpAddress src = (cfg_.ipv6 && cfg_.ipv6->Contains(target)) ? cfg_.ipv6->addr : link_local_;
    Icmpv6Repr ns;
    ns.type = kIcmpv6NeighborSolicit;
    ns.target = target;
    ns.lladdr = mac_;
    SendIcmpv6(src, SolicitedNodeMulticast(target), kNdHopLimit, ns);
  }
  tx_ = std::move(saved);
}

}  // namespace braid::ustack
