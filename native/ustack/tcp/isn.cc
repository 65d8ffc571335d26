#include "ustack/tcp/isn.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace braid::ustack {
namespace {

// Purpose tags keep the three hashes independent of each other.
constexpr std::uint8_t kPurposeIsn = 1;
constexpr std::uint8_t kPurposeTimestamp = 2;
constexpr std::uint8_t kPurposePort = 3;

void AppendEndpoint(std::vector<std::uint8_t>& out, const Endpoint& e) {
  out.insert(out.end(), e.addr.bytes.begin(), e.addr.bytes.end());
  out.push_back(static_cast<std::uint8_t>(e.port >> 8));
  out.push_back(static_cast<std::uint8_t>(e.port));
}

}  // namespace

IsnGenerator::IsnGenerator(std::span<const std::uint8_t> secret) {
  std::copy_n(secret.begin(), std::min(secret.size(), secret_.size()), secret_.begin());
}

IsnGenerator IsnGenerator::Random() {
  std::array<std::uint8_t, kSecretSize> s{};
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) {
    throw std::runtime_error("ustack tcp: RAND_bytes failed to produce the RFC 6528 ISN secret");
  }
  return IsnGenerator(s);
}

std::uint32_t IsnGenerator::Hash(std::uint8_t purpose, std::span<const std::uint8_t> input) const {
  std::vector<std::uint8_t> buf;
  buf.reserve(1 + input.size() + secret_.size());
  buf.push_back(purpose);
  buf.insert(buf.end(), input.begin(), input.end());
  buf.insert(buf.end(), secret_.begin(), secret_.end());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(buf.data(), buf.size(), md, &md_len, EVP_sha256(), nullptr) != 1 || md_len < 4) {
    throw std::runtime_error("ustack tcp: EVP_Digest(SHA-256) failed in the ISN generator");
  }
  return (std::uint32_t{md[0]} << 24) | (std::uint32_t{md[1]} << 16) | (std::uint32_t{md[2]} << 8) | md[3];
}

std::uint32_t IsnGenerator::Isn(const FourTuple& tuple, Instant now) const {
  std::vector<std::uint8_t> in;
  AppendEndpoint(in, tuple.local);
  AppendEndpoint(in, tuple.remote);
  return static_cast<std::uint32_t>(now.micros / 4) + Hash(kPurposeIsn, in);
}

std::uint32_t IsnGenerator::TimestampOffset(const FourTuple& tuple) const {
  std::vector<std::uint8_t> in;
  AppendEndpoint(in, tuple.local);
  AppendEndpoint(in, tuple.remote);
  return Hash(kPurposeTimestamp, in);
}

std::uint32_t IsnGenerator::PortOffset(const IpAddress& local, const Endpoint& remote) const {
  std::vector<std::uint8_t> in(local.bytes.begin(), local.bytes.end());
  AppendEndpoint(in, remote);
  return Hash(kPurposePort, in);
}

}  // namespace braid::ustack
