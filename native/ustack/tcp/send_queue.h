// The send buffer: bytes from SND.UNA onward (sent-but-unacknowledged, then unsent), kept as a queue
// of buffer chunks so zero-copy buffers and copied bytes share one sequence space. Outgoing segments
// point into the chunks (Peek), so a segment never spans two chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>

#include "ustack/tcp/buffer.h"

namespace braid::ustack {

class SendQueue {
 public:
  explicit SendQueue(std::size_t capacity) : capacity_(capacity) {}

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t free() const { return capacity_ - size_; }

  // Copies as much of `data` as fits; returns the count copied.
  std::size_t Append(std::span<const std::uint8_t> data);
  // Queues `buffer` without copying. Fails (and leaves `buffer` with the caller) when it does not fit
  // whole; an empty buffer is accepted and dropped.
  bool AppendBuffer(TcpBufferPtr& buffer);
  // Up to `max` contiguous bytes starting `offset` bytes past the front; shorter at a chunk end.
  std::span<const std::uint8_t> Peek(std::size_t offset, std::size_t max) const;
  // Drops `n` acknowledged bytes from the front.
  void Consume(std::size_t n);
  // Frees everything (and the capacity: nothing more will be sent, e.g. in TIME-WAIT).
  void Release();

 private:
  // Chunks that copied bytes are packed into; bounded so one chunk stays a cheap allocation.
  static constexpr std::size_t kCopyChunk = 64 * 1024;
  struct Chunk {
    TcpBufferPtr owned;                    // zero-copy chunk, or null for a copy chunk
    std::vector<std::uint8_t> copy;        // copy chunk storage (reserved, never reallocated)
    std::size_t begin = 0;                 // first unconsumed byte
    std::size_t end = 0;                   // one past the last byte
    std::span<const std::uint8_t> bytes() const {
      return owned ? owned->bytes() : std::span<const std::uint8_t>(copy);
    }
  };
  std::deque<Chunk> chunks_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

}  // namespace braid::ustack
