#include "relay/sockaddr.h"

#include <gtest/gtest.h>

#include "relay/events.h"

namespace braid::relay {
namespace {

TEST(SocketAddress, RoundTripsIpv4AndIpv6) {
  SocketAddress a;
  ASSERT_TRUE(ParseSocketAddress("198.18.1.2", 7379, a));
  EXPECT_EQ(FormatSocketAddress(a), "198.18.1.2:7379");
  ASSERT_TRUE(ParseSocketAddress("2001:2:0:1::2", 443, a));
  EXPECT_EQ(FormatSocketAddress(a), "[2001:2:0:1::2]:443");
  EXPECT_EQ(FormatHost(a.get()), "2001:2:0:1::2");
  EXPECT_EQ(PortOf(a.get()), 443);
}

TEST(SocketAddress, RejectsNamesAndBrackets) {
  SocketAddress a;
  EXPECT_FALSE(ParseSocketAddress("localhost", 1, a));
  EXPECT_FALSE(ParseSocketAddress("[::1]", 1, a));
  EXPECT_FALSE(ParseSocketAddress("198.18.1.256", 1, a));
}

TEST(EventQueue, NotifiesOncePerBatch) {
  int notified = 0;
  EventQueue q([&] { notified++; });
  q.Push(Event{});
  q.Push(Event{});
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(q.TakeAll().size(), 2u);
  q.Push(Event{});
  EXPECT_EQ(notified, 2);
}

}  // namespace
}  // namespace braid::relay
