#include "ustack/wire/ip_address.h"

#include <gtest/gtest.h>

namespace braid::ustack {
namespace {

TEST(IpAddress, V4IsMappedAndOrdered) {
  IpAddress a = IpAddress::V4(198, 18, 1, 1);
  IpAddress b = IpAddress::V4(198, 18, 1, 2);
  EXPECT_TRUE(a.is_v4());
  EXPECT_LT(a, b);
  IpAddress v6;
  v6.bytes[0] = 0x20;
  v6.bytes[1] = 0x01;
  EXPECT_FALSE(v6.is_v4());
}

}  // namespace
}  // namespace braid::ustack
