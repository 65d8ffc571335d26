// One side of a bidirectional transfer over any SocketApi (a Stack, an MptcpStack): sends `out` in
// random-size pieces (alternating copy and zero-copy sends), shuts down, reads to end of stream
// (alternating Recv and peek/consume), then closes. Pump() does what the socket allows now.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "tcp_sim.h"
#include "ustack/stack/socket_api.h"

namespace braid::ustack::sim {

struct SocketPeer {
  SocketApi* stack = nullptr;
  SocketId id = kNoSocket;
  std::vector<std::uint8_t> out;
  std::size_t sent = 0;
  std::vector<std::uint8_t> in;
  bool shut = false;
  bool eof = false;
  bool closed = false;
  bool wait_connected = false;  // send nothing before the socket reports connected
  Rng rng{1};

  virtual ~SocketPeer() = default;
  // Reads what a test wants from the socket once the transfer is done, just before Close.
  virtual void BeforeClose() {}

  void Pump() {
    if (id == kNoSocket || closed) return;
    if (wait_connected && !stack->Status(id).connected) return;
    while (!shut && sent < out.size()) {
      const std::size_t want = std::min<std::size_t>(out.size() - sent, 1 + rng.Below(40'000));
      const auto piece = std::span(out).subspan(sent, want);
      if (rng.Below(2) == 0) {
        const IoResult r = stack->Send(id, piece);
        if (r.error != TcpError::kOk) break;
        sent += r.bytes;
      } else {
        TcpBufferPtr buf = MakeHeapBuffer(piece);
        if (stack->SendBuffer(id, buf) != TcpError::kOk) break;
        EXPECT_EQ(buf, nullptr);
        sent += want;
      }
    }
    if (!shut && sent == out.size()) {
      EXPECT_EQ(stack->Shutdown(id), TcpError::kOk);
      shut = true;
    }
    while (!eof) {
      if (rng.Below(2) == 0) {
        std::array<std::uint8_t, 3000> buf;
        const IoResult r = stack->Recv(id, buf);
        if (r.error == TcpError::kWouldBlock) break;
        ASSERT_EQ(r.error, TcpError::kOk);
        if (r.bytes == 0) eof = true;
        in.insert(in.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
      } else {
        const auto view = stack->RecvPeek(id);
        if (view.empty()) {
          if (stack->Status(id).eof) eof = true;
          break;
        }
        const std::size_t n = std::min<std::size_t>(view.size(), 1 + rng.Below(20'000));
        in.insert(in.end(), view.begin(), view.begin() + static_cast<std::ptrdiff_t>(n));
        stack->RecvConsume(id, n);
      }
    }
    if (shut && eof && !closed) {
      BeforeClose();
      EXPECT_EQ(stack->Close(id), TcpError::kOk);
      closed = true;
    }
  }
};

}  // namespace braid::ustack::sim
