#pragma once
// A connected loopback TCP pair for tests: `a` and `b` are the two ends, both non-blocking.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace braid::test {

struct TcpPair {
  int a = -1;
  int b = -1;
  TcpPair() {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(l, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(l, 1) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("listen");
    a = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(a, reinterpret_cast<sockaddr*>(&addr), len) != 0) throw std::runtime_error("connect");
    b = accept(l, nullptr, nullptr);
    close(l);
    fcntl(a, F_SETFL, O_NONBLOCK);
    fcntl(b, F_SETFL, O_NONBLOCK);
  }
  ~TcpPair() {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;
};

}  // namespace braid::test
