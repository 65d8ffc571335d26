// MPTCP keys, tokens and HMACs against Linux's vectors (net/mptcp/crypto_test.c), vectors computed
// with Python's hashlib/hmac from the RFC 8684 definitions, and keys/tokens seen on a live Linux
// MPTCP connection; the TokenTable's collision handling with a scripted random source.
#include "ustack/mptcp/crypto.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>

#include "hex.h"

namespace braid::ustack::mptcp {
namespace {

using braid::ustack::testing::FromHex;

std::string Hex(std::span<const std::uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : b) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}

std::uint64_t Be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

TEST(MptcpCrypto, LinuxKunitHmacVectors) {
  // crypto_test.c takes the 16 ASCII characters of .key as key1 || key2 and the 8 ASCII characters
  // of .msg as the two nonces: the strings are used as bytes, not decoded from hex.
  struct Case {
    const char* key;
    const char* msg;
    const char* result;
  } cases[] = {
      {"0b0b0b0b0b0b0b0b", "48692054", "8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa"},
      {"aaaaaaaaaaaaaaaa", "dddddddd", "2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9"},
      {"0102030405060708", "cdcdcdcd", "e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d"},
  };
  for (const Case& c : cases) {
    const std::uint64_t key1 = Be64(c.key), key2 = Be64(c.key + 8);
    std::uint8_t msg[8];
    std::memcpy(msg, c.msg, 8);
    EXPECT_EQ(Hex(Hmac(key1, key2, msg)), c.result) << c.key;
    // The same through the MP_JOIN entry point (nonces big-endian, as Linux puts them).
    const std::uint32_t n1 = static_cast<std::uint32_t>(Be64(c.msg) >> 32);
    const std::uint32_t n2 = static_cast<std::uint32_t>(Be64(c.msg));
    EXPECT_EQ(Hex(JoinHmac(key1, key2, n1, n2)), c.result) << c.key;
  }
}

TEST(MptcpCrypto, TokenAndIdsn) {
  // python3: h = sha256(struct.pack('>Q', key)); token = h[:4], idsn = h[24:]
  EXPECT_EQ(TokenOf(0x0123456789abcdefULL), 0x55c53f5du);
  EXPECT_EQ(IdsnOf(0x0123456789abcdefULL), 0x570762cd38be9818ULL);
  EXPECT_EQ(TokenOf(0), 0xaf5570f5u);
  EXPECT_EQ(IdsnOf(0), 0xe5b2328de0e83dfcULL);
  const KeyInfo k = DeriveKey(~0ULL);
  EXPECT_EQ(k.key, ~0ULL);
  EXPECT_EQ(k.token, 0x12a3ae44u);
  EXPECT_EQ(k.idsn, 0x57fb595bbbacf0caULL);
}

TEST(MptcpCrypto, JoinHmacsByRole) {
  // A (client) key/nonce and B (server) key/nonce. python3 hmac.new(pack('>QQ', kb, ka),
  // pack('>II', rb, ra), sha256) for B's SYN/ACK and the mirror for A's third ACK.
  const std::uint64_t ka = 0x0123456789abcdefULL, kb = 0xfedcba9876543210ULL;
  const std::uint32_t ra = 0x11223344, rb = 0xaabbccdd;
  EXPECT_EQ(JoinSynAckHmac(kb, ka, rb, ra), 0x3bae5abc810a33c2ULL);
  const JoinAckHmac ack = JoinThirdAckHmac(ka, kb, ra, rb);
  EXPECT_EQ(Hex(ack), "f61753d6b8ac227764b9d1b17a6f5ceeec9d1a8a");
  // The roles matter: swapping keys gives another value.
  EXPECT_NE(JoinSynAckHmac(ka, kb, rb, ra), JoinSynAckHmac(kb, ka, rb, ra));
  EXPECT_TRUE(HmacEqual(ack, JoinThirdAckHmac(ka, kb, ra, rb)));
  JoinAckHmac bad = ack;
  bad[19] ^= 1;
  EXPECT_FALSE(HmacEqual(ack, bad));
  EXPECT_FALSE(HmacEqual(ack, std::span(ack).first(19)));
}

TEST(MptcpCrypto, AddAddrHmacIsRightmost64Bits) {
  const std::uint64_t ka = 0x0123456789abcdefULL, kb = 0xfedcba9876543210ULL;
  // id 1, 198.18.0.2, no port (0 in the message): ...754d9c62c33ac7e7 are the last 8 bytes.
  EXPECT_EQ(AddAddrHmac(ka, kb, 1, IpAddress::V4(198, 18, 0, 2), std::nullopt), 0x754d9c62c33ac7e7ULL);
  EXPECT_EQ(AddAddrHmac(ka, kb, 1, IpAddress::V4(198, 18, 0, 2), 0), 0x754d9c62c33ac7e7ULL);
  IpAddress v6;
  const auto b = FromHex({"20010db8000000000000000000000002"});
  std::copy(b.begin(), b.end(), v6.bytes.begin());
  EXPECT_EQ(AddAddrHmac(ka, kb, 2, v6, 8080), 0x76d24a282c83eeceULL);
}

TEST(MptcpCrypto, TokenTableRedrawsCollidingKeys) {
  // Scripted randomness: the first two draws give the same key, so the second NewKey must redraw.
  std::deque<std::uint64_t> keys = {0x0123456789abcdefULL, 0x0123456789abcdefULL, 42};
  TokenTable t([&](std::span<std::uint8_t> out) {
    std::uint64_t k = keys.front();
    keys.pop_front();
    for (int i = 7; i >= 0; --i, k >>= 8) out[i] = static_cast<std::uint8_t>(k);
  });
  const auto a = t.NewKey(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->key, 0x0123456789abcdefULL);
  EXPECT_EQ(a->token, 0x55c53f5du);
  const auto b = t.NewKey(2);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->key, 42u);
  EXPECT_EQ(t.collisions(), 1u);
  EXPECT_EQ(t.Find(a->token), 1u);
  EXPECT_EQ(t.Find(b->token), 2u);
  EXPECT_FALSE(t.Insert(a->token, 3));
  EXPECT_TRUE(t.Erase(a->token));
  EXPECT_FALSE(t.Erase(a->token));
  EXPECT_FALSE(t.Find(a->token));
  EXPECT_EQ(t.size(), 1u);
}

TEST(MptcpCrypto, TokenTableGivesUpAfterMaxAttempts) {
  TokenTable t([](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), 7); });
  ASSERT_TRUE(t.NewKey(1));
  EXPECT_FALSE(t.NewKey(2));
  EXPECT_EQ(t.collisions(), static_cast<std::uint64_t>(TokenTable::kMaxAttempts));
}

TEST(MptcpCrypto, TokenTableDefaultSourceIsRandom) {
  TokenTable t;
  const auto a = t.NewKey(1), b = t.NewKey(2);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->key, b->key);
  EXPECT_EQ(a->token, TokenOf(a->key));
  EXPECT_EQ(a->idsn, IdsnOf(a->key));
}

}  // namespace
}  // namespace braid::ustack::mptcp
