// The receive buffer: a byte ring holding in-order data not yet read by the application, followed by
// room where out-of-order data is written at its offset before it becomes readable (smoltcp's
// RingBuffer with write_unallocated / enqueue_unallocated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace braid::ustack {

class RingBuffer {
 public:
  explicit RingBuffer(std::size_t capacity) : storage_(capacity) {}

  std::size_t capacity() const { return storage_.size(); }
  std::size_t len() const { return len_; }
  // Room past the readable bytes: the receive window.
  std::size_t window() const { return storage_.size() - len_; }

  // Writes `data` starting `offset` bytes past the readable bytes, clipped to the window; returns the
  // count written. The bytes are not readable until EnqueueUnallocated covers them.
  std::size_t WriteUnallocated(std::size_t offset, std::span<const std::uint8_t> data);
  // Makes the next `n` written bytes readable.
  void EnqueueUnallocated(std::size_t n);
  // The readable bytes that are contiguous in memory (the first part when the data wraps).
  std::span<const std::uint8_t> PeekContiguous() const;
  // The readable bytes after those (at the start of the storage when the data wraps), else empty.
  std::span<const std::uint8_t> PeekWrapped() const;
  // Copies out and removes up to out.size() bytes.
  std::size_t Read(std::span<std::uint8_t> out);
  void Dequeue(std::size_t n);
  void Release();

 private:
  std::vector<std::uint8_t> storage_;
  std::size_t read_ = 0;  // index of the first readable byte
  std::size_t len_ = 0;
};

}  // namespace braid::ustack
