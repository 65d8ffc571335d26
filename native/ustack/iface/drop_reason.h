// Every reason the interface drops a frame, one counter each (Linux mib.h style). Dropping is the
// normal answer to malformed or foreign input ("accept loosely, count strictly"); the counters
// tell which rule fired.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace braid::ustack {

enum class IfaceDrop : std::uint8_t {
  // Link layer.
  kEthernetTruncated,      // shorter than an Ethernet header
  kEthernetNotForUs,       // unicast to another MAC
  kEthernetUnknownType,    // EtherType other than ARP, IPv4, IPv6 (VLAN tags included)
  // ARP (RFC 826).
  kArpMalformed,           // truncated, or not Ethernet/IPv4
  kArpNotForUs,            // target protocol address is not ours (normal on a shared segment)
  kArpBadOperation,        // neither request nor reply
  // IPv4 (RFC 791, RFC 1122 3.2.1).
  kIpv4Malformed,          // version, IHL or total length wrong, or truncated
  kIpv4BadChecksum,        // header checksum fails (when the device did not verify it)
  kIpv4BadSource,          // source is broadcast or multicast (RFC 1122 3.2.1.3)
  kIpv4NotForUs,           // destination is not our address
  kIpv4Fragment,           // MF set or offset non-zero: this stack does not reassemble
  kIpv4UnknownProtocol,    // neither ICMP nor TCP
  // ICMP (RFC 792).
  kIcmpv4Malformed,        // truncated, or a wrong code for its type
  kIcmpv4BadChecksum,
  kIcmpv4Unhandled,        // a type other than echo request (echo replies included)
  // IPv6 (RFC 8200).
  kIpv6Malformed,          // version wrong, or truncated
  kIpv6BadSource,          // source is multicast (RFC 4291 2.7)
  kIpv6NotForUs,           // destination is none of ours, all-nodes or our solicited-node groups
  kIpv6UnknownNextHeader,  // neither ICMPv6 nor TCP (extension headers included)
  // ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861).
  kIcmpv6Malformed,        // truncated, wrong code, or a zero-length / overlong ND option
  kIcmpv6BadChecksum,
  kIcmpv6Unhandled,        // types other than echo request, NS and NA (RS, RA, MLD, ...)
  kNdInvalid,              // fails RFC 4861 7.1.1 / 7.1.2: hop limit not 255, multicast target, ...
  kNdNotForUs,             // NS for a target that is not ours
  kIcmpEchoToMulticast,    // echo request to a multicast or broadcast group: not answered
  // TCP (RFC 9293 3.1).
  kTcpMalformed,           // header length or an option malformed
  kTcpBadChecksum,
  kTcpNoHandler,           // no TCP handler registered
  // Output.
  kTxNoRoute,              // destination off-link and no gateway of its family
  kTxTooBig,               // IP packet longer than the device MTU (no fragmentation)
  kTxDeviceFull,           // Device::Transmit refused the frame
  kTxPendingFull,          // neighbour unresolved and its pending queue (or the cache) is full
  kTxUnresolved,           // packets dropped because their neighbour never answered
  kTxBadSegment,           // SendTcp given a TcpRepr the codec refuses (e.g. > 40 bytes of options)
  kCount,
};

const char* IfaceDropName(IfaceDrop d);

using IfaceDropCounters = std::array<std::uint64_t, static_cast<std::size_t>(IfaceDrop::kCount)>;

}  // namespace braid::ustack
