// MPTCP v1 keys, tokens and HMACs (RFC 8684 sections 3.1, 3.2, 3.4.1; HMAC-SHA256 only, the one
// algorithm v1 defines). Keys are 64-bit values; on the wire and inside every hash they are
// big-endian, as Linux (net/mptcp/crypto.c) does. OpenSSL libcrypto supplies SHA-256 and HMAC.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>

#include "ustack/wire/ip_address.h"

namespace braid::ustack::mptcp {

// What a key determines (RFC 8684 3.1): the token is the most significant 32 bits of SHA-256 over
// the key, the initial data sequence number (IDSN) the least significant 64 bits.
struct KeyInfo {
  std::uint64_t key = 0;
  std::uint32_t token = 0;
  std::uint64_t idsn = 0;
};
KeyInfo DeriveKey(std::uint64_t key);
inline std::uint32_t TokenOf(std::uint64_t key) { return DeriveKey(key).token; }
inline std::uint64_t IdsnOf(std::uint64_t key) { return DeriveKey(key).idsn; }

using HmacSha256 = std::array<std::uint8_t, 32>;
inline constexpr std::size_t kJoinAckHmacLen = 20;  // the third ACK carries the leftmost 160 bits
using JoinAckHmac = std::array<std::uint8_t, kJoinAckHmacLen>;

// HMAC-SHA256 keyed with key1 || key2 (each 8 bytes big-endian) over `msg`.
HmacSha256 Hmac(std::uint64_t key1, std::uint64_t key2, std::span<const std::uint8_t> msg);

// MP_JOIN (RFC 8684 3.2). Every HMAC there is keyed (sender's key, receiver's key) over (sender's
// nonce, receiver's nonce), "sender" being the host that puts it on the wire:
//   SYN/ACK from B: HMAC(Key-B || Key-A, R-B || R-A), leftmost 64 bits, read as big-endian;
//   third ACK from A: HMAC(Key-A || Key-B, R-A || R-B), leftmost 160 bits.
// The receiver checks by computing the same with the roles of the peer.
HmacSha256 JoinHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                    std::uint32_t receiver_nonce);
std::uint64_t JoinSynAckHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                             std::uint32_t receiver_nonce);
JoinAckHmac JoinThirdAckHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint32_t sender_nonce,
                             std::uint32_t receiver_nonce);

// ADD_ADDR (RFC 8684 3.4.1): HMAC(sender's key || receiver's key, address id || address (4 or 16
// bytes) || port (2 bytes, 0 when the option carries none)), rightmost 64 bits read as big-endian.
std::uint64_t AddAddrHmac(std::uint64_t sender_key, std::uint64_t receiver_key, std::uint8_t address_id,
                          const IpAddress& address, std::optional<std::uint16_t> port);

// Constant-time equality for received HMACs.
bool HmacEqual(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// The tokens in use on one lcore (shared-nothing: no locks). A token names a connection for
// MP_JOIN (RFC 8684 3.2), so each local key must have a token nobody else on this table holds;
// like Linux (net/mptcp/token.c) a fresh key is drawn again while its token collides. The value
// stored with a token is opaque to the table (the connection level's handle of the connection).
class TokenTable {
 public:
  // Fills its argument with random bytes; the default draws from OpenSSL's RAND_bytes. Tests pass
  // a deterministic source to force collisions.
  using RandomSource = std::function<void(std::span<std::uint8_t>)>;
  static constexpr int kMaxAttempts = 8;  // Linux gives up after 4 retries; a full table is not expected

  explicit TokenTable(RandomSource random = {});

  // A fresh local key whose token is unused, now reserved for `owner`; nullopt when every attempt
  // collided (the caller then falls back to plain TCP, as Linux does when token allocation fails).
  std::optional<KeyInfo> NewKey(std::uint64_t owner);
  // Reserves the token of a key chosen elsewhere; false when the token is taken.
  bool Insert(std::uint32_t token, std::uint64_t owner);
  // The owner of a token (MP_JOIN lookup), nullopt when unknown.
  std::optional<std::uint64_t> Find(std::uint32_t token) const;
  // Frees a token when its connection is gone; false when it was not held.
  bool Erase(std::uint32_t token);
  std::size_t size() const { return owners_.size(); }
  std::uint64_t collisions() const { return collisions_; }  // keys redrawn because their token was taken

 private:
  RandomSource random_;
  std::unordered_map<std::uint32_t, std::uint64_t> owners_;
  std::uint64_t collisions_ = 0;
};

// 64 random bits from OpenSSL's RAND_bytes (MP_JOIN nonces, keys); throws when it fails.
std::uint64_t RandomU64();

}  // namespace braid::ustack::mptcp
