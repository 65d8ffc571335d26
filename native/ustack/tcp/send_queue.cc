#include "ustack/tcp/send_queue.h"

#include <algorithm>

namespace braid::ustack {

std::size_t SendQueue::Append(std::span<const std::uint8_t> data) {
  std::size_t n = std::min(data.size(), free());
  std::size_t done = 0;
  while (done < n) {
    if (chunks_.empty() || chunks_.back().owned || chunks_.back().copy.size() == chunks_.back().copy.capacity()) {
      Chunk c;
      c.copy.reserve(std::min(kCopyChunk, std::max<std::size_t>(capacity_, 1)));
      chunks_.push_back(std::move(c));
    }
    Chunk& tail = chunks_.back();
    std::size_t take = std::min(n - done, tail.copy.capacity() - tail.copy.size());
    tail.copy.insert(tail.copy.end(), data.begin() + done, data.begin() + done + take);
    tail.end = tail.copy.size();
    done += take;
  }
  size_ += n;
  return n;
}

bool SendQueue::AppendBuffer(TcpBufferPtr& buffer) {
  std::size_t len = buffer->bytes().size();
  if (len > free()) return false;
  if (len == 0) {
    buffer.reset();
    return true;
  }
  Chunk c;
  c.owned = std::move(buffer);
  c.end = len;
  chunks_.push_back(std::move(c));
  size_ += len;
  return true;
}

std::span<const std::uint8_t> SendQueue::Peek(std::size_t offset, std::size_t max) const {
  for (const Chunk& c : chunks_) {
    std::size_t len = c.end - c.begin;
    if (offset < len) {
      return c.bytes().subspan(c.begin + offset, std::min(max, len - offset));
    }
    offset -= len;
  }
  return {};
}

void SendQueue::Consume(std::size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  while (n > 0) {
    Chunk& c = chunks_.front();
    std::size_t len = c.end - c.begin;
    if (n < len) {
      c.begin += n;
      return;
    }
    n -= len;
    chunks_.pop_front();
  }
  // Keep a fully drained copy chunk only if it still has room; otherwise nothing to do.
}

void SendQueue::Release() {
  chunks_.clear();
  size_ = 0;
  capacity_ = 0;
}

}  // namespace braid::ustack
