#include "ustack/iface/drop_reason.h"

namespace braid::ustack {

const char* IfaceDropName(IfaceDrop d) {
  switch (d) {
    case IfaceDrop::kEthernetTruncated: return "ethernet_truncated";
    case IfaceDrop::kEthernetNotForUs: return "ethernet_not_for_us";
    case IfaceDrop::kEthernetUnknownType: return "ethernet_unknown_type";
    case IfaceDrop::kArpMalformed: return "arp_malformed";
    case IfaceDrop::kArpNotForUs: return "arp_not_for_us";
    case IfaceDrop::kArpBadOperation: return "arp_bad_operation";
    case IfaceDrop::kIpv4Malformed: return "ipv4_malformed";
    case IfaceDrop::kIpv4BadChecksum: return "ipv4_bad_checksum";
    case IfaceDrop::kIpv4BadSource: return "ipv4_bad_source";
    case IfaceDrop::kIpv4NotForUs: return "ipv4_not_for_us";
    case IfaceDrop::kIpv4Fragment: return "ipv4_fragment";
    case IfaceDrop::kIpv4UnknownProtocol: return "ipv4_unknown_protocol";
    case IfaceDrop::kIcmpv4Malformed: return "icmpv4_malformed";
    case IfaceDrop::kIcmpv4BadChecksum: return "icmpv4_bad_checksum";
    case IfaceDrop::kIcmpv4Unhandled: return "icmpv4_unhandled";
    case IfaceDrop::kIpv6Malformed: return "ipv6_malformed";
    case IfaceDrop::kIpv6BadSource: return "ipv6_bad_source";
    case IfaceDrop::kIpv6NotForUs: return "ipv6_not_for_us";
    case IfaceDrop::kIpv6UnknownNextHeader: return "ipv6_unknown_next_header";
    case IfaceDrop::kIcmpv6Malformed: return "icmpv6_malformed";
    case IfaceDrop::kIcmpv6BadChecksum: return "icmpv6_bad_checksum";
    case IfaceDrop::kIcmpv6Unhandled: return "icmpv6_unhandled";
    case IfaceDrop::kNdInvalid: return "nd_invalid";
    case IfaceDrop::kNdNotForUs: return "nd_not_for_us";
    case IfaceDrop::kIcmpEchoToMulticast: return "icmp_echo_to_multicast";
    case IfaceDrop::kTcpMalformed: return "tcp_malformed";
    case IfaceDrop::kTcpBadChecksum: return "tcp_bad_checksum";
    case IfaceDrop::kTcpNoHandler: return "tcp_no_handler";
    case IfaceDrop::kTxNoRoute: return "tx_no_route";
    case IfaceDrop::kTxTooBig: return "tx_too_big";
    case IfaceDrop::kTxDeviceFull: return "tx_device_full";
    case IfaceDrop::kTxPendingFull: return "tx_pending_full";
    case IfaceDrop::kTxUnresolved: return "tx_unresolved";
    case IfaceDrop::kTxBadSegment: return "tx_bad_segment";
    case IfaceDrop::kCount: break;
  }
  return "unknown";
}

}  // namespace braid::ustack
