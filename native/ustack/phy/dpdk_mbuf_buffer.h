// Zero-copy send buffers in DPDK memory: a TcpBuffer over one rte_mbuf, so an application can build
// its data in an mbuf and hand it to the stack's send queue without a copy (Stack::SendBuffer). The
// stack drops its reference (rte_pktmbuf_free) once the bytes are acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "ustack/phy/dpdk_eal.h"
#include "ustack/tcp/buffer.h"

struct rte_mbuf;
struct rte_mempool;

namespace braid::ustack {

class MbufTcpBuffer final : public TcpBuffer {
 public:
  // Takes over the caller's reference to `m`; the buffer is its data (one segment).
  explicit MbufTcpBuffer(rte_mbuf* m);
  ~MbufTcpBuffer() override;
  MbufTcpBuffer(const MbufTcpBuffer&) = delete;
  MbufTcpBuffer& operator=(const MbufTcpBuffer&) = delete;
  std::span<const std::uint8_t> bytes() const override;

 private:
  rte_mbuf* m_;
};

// A pool of large single-segment mbufs for applications to write into.
class MbufBufferPool {
 public:
  // `count` mbufs of `room` data bytes each. Throws std::runtime_error naming the pool.
  MbufBufferPool(Eal& eal, const std::string& name, std::uint32_t count, std::uint16_t room);
  ~MbufBufferPool();
  MbufBufferPool(const MbufBufferPool&) = delete;
  MbufBufferPool& operator=(const MbufBufferPool&) = delete;

  // An mbuf of `len` bytes (at most room()) that `fill` writes; null when the pool is empty.
  TcpBufferPtr Make(std::size_t len, const std::function<void(std::span<std::uint8_t>)>& fill);
  std::size_t room() const { return room_; }

 private:
  rte_mempool* pool_ = nullptr;
  std::size_t room_ = 0;
};

}  // namespace braid::ustack
