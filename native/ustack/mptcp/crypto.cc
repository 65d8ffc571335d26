#include "ustack/mptcp/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace braid::ustack::mptcp {
namespace {

void StoreBe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
void StoreBe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t LoadBe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

KeyInfo DeriveKey(std::uint64_t key) {
  std::uint8_t in[8];
  StoreBe64(in, key);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(in, sizeof(in), md, &md_len, EVP_sha256(), nullptr) != 1 || md_len != 32) {
    throw std::runtime_error("ustack mptcp: EVP_Digest(SHA-256) failed deriving a key's token");
  }
  KeyInfo k;
  k.key = key;
  k.token = static_cast<std::uint32_t>(LoadBe64(md) >> 32);
  k.idsn = LoadBe64(md + 24);
  return k;
}

HmacSha256 Hmac(std::uint64_t key1, std::uint64_t key2, std::span<const std::uint8_t> msg) {
  std::uint8_t key[16];
  StoreBe64(key, key1);
  StoreBe64(key + 8, key2);
  HmacSha256 out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key, sizeof(key), msg.data(), msg.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    throw std::runtime_error("ustack mptcp: HMAC(SHA-256) failed");
  }
  return out;
}

HmacSha256 JoinHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                    std::uint32_t receiver_nonce) {
  std::uint8_t msg[8];
  StoreBe32(msg, sender_nonce);
  StoreBe32(msg + 4, receiver_nonce);
  return Hmac(sender_key, receiver_key, msg);
}

std::uint64_t JoinSynAckHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                             std::uint32_t receiver_nonce) {
  return LoadBe64(JoinHmac(sender_key, receiver_key, sender_nonce, receiver_nonce).data());
}

JoinAckHmac JoinThirdAckHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                             std::uint32_t receiver_nonce) {
  const HmacSha256 h = JoinHmac(sender_key, receiver_key, sender_nonce, receiver_nonce);
  JoinAckHmac out{};
  std::copy_n(h.begin(), out.size(), out.begin());
  return out;
}

std::uint64_t AddAddrHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint8_t address_id,
                          const IpAddress& address, std::optional<std::uint16_t> port) {
  std::uint8_t msg[1 + 16 + 2];
  std::size_t n = 0;
  msg[n++] = address_id;
  const std::size_t from = address.is_v4() ? 12 : 0;
  for (std::size_t i = from; i < 16; ++i) msg[n++] = address.bytes[i];
  const std::uint16_t p = port.value_or(0);
  msg[n++] = static_cast<std::uint8_t>(p >> 8);
  msg[n++] = static_cast<std::uint8_t>(p);
  const HmacSha256 h = Hmac(sender_key, receiver_key, std::span<const std::uint8_t>(msg, n));
  return LoadBe64(h.data() + h.size() - 8);
}

bool HmacEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::uint64_t RandomU64() {
  std::uint8_t b[8];
  if (RAND_bytes(b, sizeof(b)) != 1) throw std::runtime_error("ustack mptcp: RAND_bytes failed");
  return LoadBe64(b);
}

TokenTable::TokenTable(RandomSource random) : random_(std::move(random)) {
  if (!random_) {
    random_ = [](std::span<std::uint8_t> out) {
      if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("ustack mptcp: RAND_bytes failed drawing a key");
      }
    };
  }
}

std::optional<KeyInfo> TokenTable::NewKey(std::uint64_t owner) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::uint8_t b[8];
    random_(b);
    const KeyInfo k = DeriveKey(LoadBe64(b));
    if (owners_.emplace(k.token, owner).second) return k;
    ++collisions_;
  }
  return std::nullopt;
}

bool TokenTable::Insert(std::uint32_t token, std::uint64_t owner) { return owners_.emplace(token, owner).second; }

std::optional<std::uint64_t> TokenTable::Find(std::uint32_t token) const {
  const auto it = owners_.find(token);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

bool TokenTable::Erase(std::uint32_t token) { return owners_.erase(token) == 1; }

}  // namespace braid::ustack::mptcp
