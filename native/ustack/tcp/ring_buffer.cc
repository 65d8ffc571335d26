#include "ustack/tcp/ring_buffer.h"

#include <algorithm>
#include <cstring>

namespace braid::ustack {

std::size_t RingBuffer::WriteUnallocated(std::size_t offset, std::span<const std::uint8_t> data) {
  std::size_t cap = storage_.size();
  if (offset >= window()) return 0;
  std::size_t n = std::min(data.size(), window() - offset);
  std::size_t pos = (read_ + len_ + offset) % cap;
  std::size_t first = std::min(n, cap - pos);
  std::memcpy(storage_.data() + pos, data.data(), first);
  if (n > first) std::memcpy(storage_.data(), data.data() + first, n - first);
  return n;
}

void RingBuffer::EnqueueUnallocated(std::size_t n) { len_ += std::min(n, window()); }

std::span<const std::uint8_t> RingBuffer::PeekContiguous() const {
  if (len_ == 0) return {};
  return std::span<const std::uint8_t>(storage_.data() + read_, std::min(len_, storage_.size() - read_));
}

std::span<const std::uint8_t> RingBuffer::PeekWrapped() const {
  const std::size_t first = PeekContiguous().size();
  return std::span<const std::uint8_t>(storage_.data(), len_ - first);
}

std::size_t RingBuffer::Read(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size() && len_ > 0) {
    auto chunk = PeekContiguous();
    std::size_t n = std::min(chunk.size(), out.size() - done);
    std::memcpy(out.data() + done, chunk.data(), n);
    Dequeue(n);
    done += n;
  }
  return done;
}

void RingBuffer::Dequeue(std::size_t n) {
  n = std::min(n, len_);
  len_ -= n;
  read_ = storage_.empty() ? 0 : (read_ + n) % storage_.size();
}

void RingBuffer::Release() {
  storage_.clear();
  storage_.shrink_to_fit();
  read_ = 0;
  len_ = 0;
}

}  // namespace braid::ustack
