#include "kernel/socket_owner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace braid::kernel {
namespace {

relay::SocketAddress Name(int fd, bool peer) {
  relay::SocketAddress a;
  a.length = sizeof(a.storage);
  if (peer) {
    getpeername(fd, a.get(), &a.length);
  } else {
    getsockname(fd, a.get(), &a.length);
  }
  return a;
}

TEST(SocketOwner, FindsThisProcessAsOwnerOfItsLoopbackSocket) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  socklen_t len = sizeof(sa);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  int cfd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(cfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  int afd = accept(lfd, nullptr, nullptr);
  ASSERT_GE(afd, 0);

  // Seen from the accepted end, as braid would: look up the client's socket.
  auto inode = FindTcpSocketInode(Name(afd, true), Name(afd, false));
  ASSERT_TRUE(inode.has_value());
  EXPECT_EQ(FindSocketOwner(*inode, 0), getpid());
  EXPECT_EQ(FindSocketOwner(*inode, getpid()), getpid());
  // A four-tuple nobody has.
  relay::SocketAddress bogus = Name(afd, true);
  reinterpret_cast<sockaddr_in*>(bogus.get())->sin_port = htons(1);
  EXPECT_FALSE(FindTcpSocketInode(bogus, Name(afd, false)).has_value());
  close(afd);
  close(cfd);
  close(lfd);
}

TEST(SocketOwner, ReadsAffinityAndLastCpu) {
  auto cpus = ReadProcessCpus(getpid());
  ASSERT_TRUE(cpus.has_value());
  EXPECT_FALSE(cpus->allowed.empty());
  EXPECT_GE(cpus->last, 0);
  EXPECT_FALSE(ReadProcessCpus(0x3fffffff).has_value());
}

}  // namespace
}  // namespace braid::kernel
