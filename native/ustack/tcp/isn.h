// Secret-keyed hashes over a connection's addresses (RFC 6528): initial sequence numbers, the
// per-connection timestamp offset (RFC 7323 5.4 / 7.1) and the ephemeral port offset (RFC 6056
// algorithm 3). F is SHA-256 from OpenSSL's libcrypto, truncated to 32 bits.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "ustack/wire/instant.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack {

class IsnGenerator {
 public:
  static constexpr std::size_t kSecretSize = 32;
  // A fixed secret, for deterministic simulations.
  explicit IsnGenerator(std::span<const std::uint8_t> secret);
  // A secret from OpenSSL's CSPRNG (RAND_bytes); throws std::runtime_error if it has no entropy.
  static IsnGenerator Random();

  // RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 us timer.
  std::uint32_t Isn(const FourTuple& tuple, Instant now) const;
  // Added to our TSval clock so timestamps do not leak uptime or link connections.
  std::uint32_t TimestampOffset(const FourTuple& tuple) const;
  // RFC 6056 3.3.3: where the ephemeral-port search starts for this destination.
  std::uint32_t PortOffset(const IpAddress& local, const Endpoint& remote) const;

 private:
  std::uint32_t Hash(std::uint8_t purpose, std::span<const std::uint8_t> input) const;
  std::array<std::uint8_t, kSecretSize> secret_{};
};

}  // namespace braid::ustack
