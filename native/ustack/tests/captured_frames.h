// Real frames from Linux 6.18 between two namespaces on a veth (tx checksum offload off), captured
// with tshark: 02:..:0a / 198.18.0.1 / 2001:db8::1 pings and connects to 02:..:0b / .2 / ::2.
#pragma once

#include "hex.h"

namespace braid::ustack::testing {

// ARP request: who has 198.18.0.2? tell 198.18.0.1.
inline const auto kFrameArpRequest = FromHex({"ffffffffffff02000000000a0806000108000604000102000000000ac6120001",
                                         "000000000000c6120002"});
// ARP reply: 198.18.0.2 is at 02:00:00:00:00:0b.
inline const auto kFrameArpReply = FromHex({"02000000000a02000000000b0806000108000604000202000000000bc6120002",
                                       "02000000000ac6120001"});
// ICMP echo request 198.18.0.1 -> .2, id 0x6a9b seq 1, 16 data bytes.
inline const auto kFrameIcmpEchoRequest = FromHex({"02000000000b02000000000a08004500002ce36d40004001cb3bc6120001c612",
                                              "00020800abba6a9b00010569056b00000000ced4080000000000"});
// Its reply.
inline const auto kFrameIcmpEchoReply = FromHex({"02000000000a02000000000b08004500002c5205000040019ca4c6120002c612",
                                            "00010000b3ba6a9b00010569056b00000000ced4080000000000"});
// Neighbor solicitation 2001:db8::1 -> ff02::1:ff00:2 for 2001:db8::2, source LLA 02:..:0a.
inline const auto kFrameNeighborSolicit = FromHex({"3333ff00000202000000000a86dd6000000000203aff20010db8000000000000",
                                              "000000000001ff0200000000000000000001ff00000287001c1e000000002001",
                                              "0db8000000000000000000000002010102000000000a"});
// Neighbor advertisement 2001:db8::2 (solicited, override), target LLA 02:..:0b.
inline const auto kFrameNeighborAdvert = FromHex({"02000000000a02000000000b86dd6000000000203aff20010db8000000000000",
                                             "00000000000220010db800000000000000000000000188008a68600000002001",
                                             "0db8000000000000000000000002020102000000000b"});
// ICMPv6 echo request 2001:db8::1 -> ::2, id 0x6a9c seq 1, 16 data bytes.
inline const auto kFrameIcmpv6EchoRequest = FromHex({"02000000000b02000000000a86dd600a38ed00183a4020010db8000000000000",
                                                "00000000000120010db8000000000000000000000002800027e76a9c00010569",
                                                "056b000000007edf080000000000"});
inline const auto kFrameIcmpv6EchoReply = FromHex({"02000000000a02000000000b86dd600e065c00183a4020010db8000000000000",
                                              "00000000000220010db8000000000000000000000001810026e76a9c00010569",
                                              "056b000000007edf080000000000"});
// TCP SYN 198.18.0.1:49486 -> .2:8080: MSS 1460, SACK_PERM, TS 1634163159/0, WS 10.
inline const auto kFrameTcpSynV4 = FromHex({"02000000000b02000000000a08004500003ccbe540004006e2aec6120001c612",
                                       "0002c14e1f906cbe722900000000a002faf045df0000020405b40402080a6167",
                                       "59d7000000000103030a"});
// TCP PSH|ACK 8080 -> 49486 with "hello\n": NOP NOP TS.
inline const auto kFrameTcpDataV4 = FromHex({"02000000000a02000000000b08004500003acc3440004006e261c6120002c612",
                                        "00011f90c14e8cd36d616cbe722b801800407a1900000101080aba04fd106167",
                                        "59d768656c6c6f0a"});
// TCP SYN over IPv6 [2001:db8::1]:58806 -> [::2]:8081: MSS 1440, SACK_PERM, TS, WS 10.
inline const auto kFrameTcpSynV6 = FromHex({"02000000000b02000000000a86dd60007c990028064020010db8000000000000",
                                       "00000000000120010db8000000000000000000000002e5b61f915b715d1b0000",
                                       "0000a002fd2072f70000020405a00402080a28c495eb000000000103030a"});
// TCP PSH|ACK over IPv6 with "hi6\n".
inline const auto kFrameTcpDataV6 = FromHex({"02000000000a02000000000b86dd60033e260024064020010db8000000000000",
                                        "00000000000220010db80000000000000000000000011f91e5b631ffe28e5b71",
                                        "5d1d8018003f02c700000101080a6349856528c495eb6869360a"});

}  // namespace braid::ustack::testing
