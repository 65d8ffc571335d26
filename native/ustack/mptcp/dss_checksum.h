// The DSS checksum (RFC 8684 3.3.1): the Internet checksum over a pseudo-header of the mapping
// (64-bit DSN, relative subflow sequence number, data-level length, a zero checksum field) followed
// by the mapped payload. The 64-bit DSN is used even when the option carries 32 bits.
#pragma once

#include <cstdint>
#include <span>

namespace braid::ustack::mptcp {

// The value for the option's checksum field, for a mapping whose payload is `payload` (whole).
std::uint16_t DssChecksum(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length,
                          std::span<const std::uint8_t> payload);
// The same from a partial sum over the payload (wire::Sum, possibly combined over several
// segments' pieces), for mappings that span segments.
std::uint16_t DssChecksumFromSum(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length,
                                 std::uint16_t payload_sum);
// Receiver's check: the sum over the pseudo-header with the received checksum in place, plus the
// payload, must be all ones. The infinite mapping (length 0) carries a zero checksum (RFC 8684
// 3.3.1; Linux writes 0), so there only 0 is valid.
bool DssChecksumValid(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length, std::uint16_t checksum,
                      std::span<const std::uint8_t> payload);

}  // namespace braid::ustack::mptcp
