#include "relay/pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace braid::relay {
namespace {

constexpr size_t kCopyBufferSize = 64 * 1024;

void ShutdownWrite(int dst, Direction& d) {
  // ENOTCONN when the peer is already gone: nothing left to tell it.
  (void)shutdown(dst, SHUT_WR);
  d.finished = true;
}

PumpStatus PumpCopy(int src, int dst, Direction& d, size_t budget, int& err) {
  if (!d.buffer) d.buffer.reset(new char[kCopyBufferSize]);
  size_t moved = 0;
  for (;;) {
    while (d.in_pipe > 0) {
      ssize_t n = send(dst, d.buffer.get() + d.buffer_offset, d.in_pipe, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        d.in_pipe -= static_cast<size_t>(n);
        d.buffer_offset += static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        moved += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return PumpStatus::kWouldBlock;
      err = errno;
      return PumpStatus::kFailed;
    }
    if (d.src_eof) {
      ShutdownWrite(dst, d);
      return PumpStatus::kFinished;
    }
    if (moved >= budget) return PumpStatus::kYield;
    ssize_t n = recv(src, d.buffer.get(), kCopyBufferSize, MSG_DONTWAIT);
    if (n > 0) {
      d.in_pipe = static_cast<size_t>(n);
      d.buffer_offset = 0;
    } else if (n == 0) {
      d.src_eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return PumpStatus::kWouldBlock;
    } else {
      err = errno;
      return PumpStatus::kFailed;
    }
  }
}

}  // namespace

PumpStatus Pump(int src, int dst, Direction& d, size_t chunk, size_t budget, int& err) {
  if (d.finished) return PumpStatus::kFinished;
  if (d.copy_mode || !d.pipe.valid()) {
    d.copy_mode = true;
    return PumpCopy(src, dst, d, budget, err);
  }
  size_t moved = 0;
  for (;;) {
    while (d.in_pipe > 0) {
      ssize_t n = splice(d.pipe.read_fd, nullptr, dst, nullptr, d.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe -= static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        moved += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return PumpStatus::kWouldBlock;
      err = n == 0 ? EPIPE : errno;
      return PumpStatus::kFailed;
    }
    if (d.src_eof) {
      ShutdownWrite(dst, d);
      return PumpStatus::kFinished;
    }
    if (moved >= budget) return PumpStatus::kYield;
    ssize_t n = splice(src, nullptr, d.pipe.write_fd, nullptr, chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.in_pipe = static_cast<size_t>(n);
    } else if (n == 0) {
      d.src_eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return PumpStatus::kWouldBlock;
    } else if (errno == EINVAL && d.bytes == 0) {
      // This socket type cannot splice: move the rest through a user buffer.
      d.copy_mode = true;
      return PumpCopy(src, dst, d, budget - moved, err);
    } else {
      err = errno;
      return PumpStatus::kFailed;
    }
  }
}

}  // namespace braid::relay
