#include "ustack/mptcp/dss_checksum.h"

#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"

namespace braid::ustack::mptcp {
namespace {

std::uint16_t PseudoHeaderSum(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length, std::uint16_t checksum) {
  std::uint8_t h[16];
  wire::Store32(h, static_cast<std::uint32_t>(dsn >> 32));
  wire::Store32(h + 4, static_cast<std::uint32_t>(dsn));
  wire::Store32(h + 8, ssn);
  wire::Store16(h + 12, length);
  wire::Store16(h + 14, checksum);
  return wire::Sum(h);
}

}  // namespace

std::uint16_t DssChecksumFromSum(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length,
                                 std::uint16_t payload_sum) {
  return wire::Finish(wire::Combine(PseudoHeaderSum(dsn, ssn, length, 0), payload_sum));
}

std::uint16_t DssChecksum(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length,
                          std::span<const std::uint8_t> payload) {
  return DssChecksumFromSum(dsn, ssn, length, wire::Sum(payload));
}

bool DssChecksumValid(std::uint64_t dsn, std::uint32_t ssn, std::uint16_t length, std::uint16_t checksum,
                      std::span<const std::uint8_t> payload) {
  if (length == 0) return checksum == 0;
  // The pseudo-header is 16 bytes, so the payload's words line up after it.
  return wire::Finish(wire::Combine(PseudoHeaderSum(dsn, ssn, length, checksum), wire::Sum(payload))) == 0;
}

}  // namespace braid::ustack::mptcp
