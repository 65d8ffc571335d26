#include "ustack/phy/dpdk_mbuf_buffer.h"

#include <rte_errno.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace braid::ustack {

MbufTcpBuffer::MbufTcpBuffer(rte_mbuf* m) : m_(m) {}

MbufTcpBuffer::~MbufTcpBuffer() { rte_pktmbuf_free(m_); }

std::span<const std::uint8_t> MbufTcpBuffer::bytes() const {
  return {rte_pktmbuf_mtod(m_, const std::uint8_t*), m_->data_len};
}

MbufBufferPool::MbufBufferPool(Eal&, const std::string& name, std::uint32_t count, std::uint16_t room) {
  const std::uint32_t data_room = std::min<std::uint32_t>(std::uint32_t{room} + RTE_PKTMBUF_HEADROOM, UINT16_MAX);
  pool_ = rte_pktmbuf_pool_create(name.c_str(), count, 0, 0, static_cast<std::uint16_t>(data_room), SOCKET_ID_ANY);
  if (pool_ == nullptr) {
    throw std::runtime_error("mbuf buffer pool " + name + ": rte_pktmbuf_pool_create failed: " + rte_strerror(rte_errno));
  }
  room_ = data_room - RTE_PKTMBUF_HEADROOM;
}

MbufBufferPool::~MbufBufferPool() { rte_mempool_free(pool_); }

TcpBufferPtr MbufBufferPool::Make(std::size_t len, const std::function<void(std::span<std::uint8_t>)>& fill) {
  if (len > room_) return nullptr;
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return nullptr;
  char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(len));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  fill({reinterpret_cast<std::uint8_t*>(p), len});
  return std::make_unique<MbufTcpBuffer>(m);
}

}  // namespace braid::ustack
