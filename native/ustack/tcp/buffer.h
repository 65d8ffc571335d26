// A run of bytes the stack can hold without copying: the zero-copy currency between the application
// and the send queue. Heap-backed now; an rte_mbuf-backed implementation (holding a reference on the
// mbuf, freed in its destructor) slots in later without touching tcp/.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace braid::ustack {

class TcpBuffer {
 public:
  virtual ~TcpBuffer() = default;
  // The bytes; stable for the buffer's lifetime.
  virtual std::span<const std::uint8_t> bytes() const = 0;
};

using TcpBufferPtr = std::unique_ptr<TcpBuffer>;

class HeapTcpBuffer final : public TcpBuffer {
 public:
  explicit HeapTcpBuffer(std::vector<std::uint8_t> data) : data_(std::move(data)) {}
  std::span<const std::uint8_t> bytes() const override { return data_; }

 private:
  std::vector<std::uint8_t> data_;
};

inline TcpBufferPtr MakeHeapBuffer(std::span<const std::uint8_t> data) {
  return std::make_unique<HeapTcpBuffer>(std::vector<std::uint8_t>(data.begin(), data.end()));
}

}  // namespace braid::ustack
