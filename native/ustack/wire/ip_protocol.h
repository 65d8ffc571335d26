// IP protocol numbers (IANA), shared by the IPv4 protocol field and the IPv6 next-header field.
#pragma once

#include <cstdint>

namespace braid::ustack::wire {

enum IpProtocol : std::uint8_t {
  kIpProtoIcmp = 1,
  kIpProtoTcp = 6,
  kIpProtoUdp = 17,
  kIpProtoIcmpv6 = 58,
};

}  // namespace braid::ustack::wire
