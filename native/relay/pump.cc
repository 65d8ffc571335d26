#include "relay/pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace braid::relay {
namespace {

enum class Io { kMoved, kEof, kWouldBlock, kRefused, kFailed };

Io Result(ssize_t n, size_t& moved, int& err) {
  if (n > 0) {
    moved = static_cast<size_t>(n);
    return Io::kMoved;
  }
  if (n == 0) return Io::kEof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWouldBlock;
  err = errno;
  return Io::kFailed;
}

Io Write(int dst, Direction& d, size_t& moved, int& err) {
  for (;;) {
    ssize_t n = d.splicing ? splice(d.pipe.read_fd, nullptr, dst, nullptr, d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                           : send(dst, d.buffer.get() + d.buffer_offset, d.pending, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {  // a socket that takes nothing while not full is gone
      err = EPIPE;
      return Io::kFailed;
    }
    return Result(n, moved, err);
  }
}

Io Read(int src, Direction& d, size_t chunk, size_t& moved, int& err) {
  for (;;) {
    ssize_t n;
    if (d.splicing) {
      n = splice(src, nullptr, d.pipe.write_fd, nullptr, chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && errno == EINVAL) return Io::kRefused;  // this socket type cannot splice
    } else {
      if (!d.buffer) d.buffer.reset(new char[kCopyBufferSize]);
      n = recv(src, d.buffer.get(), kCopyBufferSize, MSG_DONTWAIT);
    }
    if (n < 0 && errno == EINTR) continue;
    return Result(n, moved, err);
  }
}

// With nothing pending: choose how the next read moves bytes.
void ChooseMode(Direction& d, PipePool& pipes) {
  if (!d.splicing && d.last_read_full && !d.splice_refused) {
    if (!d.pipe.valid()) d.pipe = pipes.Acquire();
    if (d.pipe.valid()) {
      d.splicing = true;
      d.short_splices = 0;
      d.splice_switches++;
    } else {
      d.splice_refused = true;  // out of fds for pipes: the buffer still works
    }
  } else if (d.splicing && d.short_splices >= kShortSplicesToCopy) {
    d.splicing = false;
    d.last_read_full = false;
  }
}

}  // namespace

PumpStatus Pump(int src, int dst, Direction& d, PipePool& pipes, size_t budget, int& err) {
  if (d.finished) return PumpStatus::kFinished;
  size_t moved_total = 0;
  for (;;) {
    while (d.pending > 0) {
      size_t moved = 0;
      switch (Write(dst, d, moved, err)) {
        case Io::kMoved:
          d.pending -= moved;
          d.buffer_offset += moved;
          d.bytes += moved;
          moved_total += moved;
          break;
        case Io::kWouldBlock:
          return PumpStatus::kWouldBlock;
        default:
          return PumpStatus::kFailed;
      }
    }
    if (d.src_eof) {
      (void)shutdown(dst, SHUT_WR);  // ENOTCONN when the peer is already gone: nothing to tell it
      d.finished = true;
      return PumpStatus::kFinished;
    }
    if (moved_total >= budget) return PumpStatus::kYield;
    ChooseMode(d, pipes);
    size_t moved = 0;
    switch (Read(src, d, pipes.pipe_size(), moved, err)) {
      case Io::kMoved:
        d.pending = moved;
        d.buffer_offset = 0;
        if (d.splicing) {
          d.short_splices = moved < kShortSplice ? static_cast<uint8_t>(d.short_splices + 1) : 0;
        } else {
          d.last_read_full = moved == kCopyBufferSize;
        }
        break;
      case Io::kEof:
        d.src_eof = true;
        break;
      case Io::kRefused:
        d.splice_refused = true;
        d.splicing = false;
        break;
      case Io::kWouldBlock:
        return PumpStatus::kWouldBlock;
      case Io::kFailed:
        return PumpStatus::kFailed;
    }
  }
}

}  // namespace braid::relay
