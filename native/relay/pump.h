#pragma once
// Moves one direction of a connection, src socket -> dst socket. Small messages go through a
// 16 KiB buffer with recv/send; once reads fill that buffer (a bulk stream) the direction
// switches to splice() through a pooled pipe, and back after a run of short reads. Measured on
// redis-benchmark through a braid pair: splice for every message cost 1.7x the CPU per request of
// copying, while bulk streams are cheaper spliced. Never reads more from src than dst has taken
// (backpressure), and turns EOF on src into shutdown(SHUT_WR) on dst (half-close).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "relay/pipe_pool.h"

namespace braid::relay {

constexpr size_t kCopyBufferSize = 16 * 1024;
// Consecutive splice reads shorter than this many bytes send a direction back to copying.
constexpr size_t kShortSplice = 4 * 1024;
constexpr uint8_t kShortSplicesToCopy = 8;

struct Direction {
  Pipe pipe;             // acquired on the first switch to splice, kept until the connection ends
  size_t pending = 0;    // bytes read from src not yet written to dst (in the pipe or the buffer)
  uint64_t bytes = 0;    // bytes written to dst
  bool src_eof = false;
  bool finished = false;       // EOF propagated to dst
  bool splicing = false;       // pending bytes (if any) are in the pipe, not the buffer
  bool splice_refused = false; // a socket or the pipe pool said no: copy for good
  bool last_read_full = false;
  uint8_t short_splices = 0;
  uint32_t splice_switches = 0;  // times this direction went to splice (for tests and stats)
  std::unique_ptr<char[]> buffer;
  size_t buffer_offset = 0;
};

enum class PumpStatus {
  kWouldBlock,  // src empty or dst full: wait for the next epoll edge
  kYield,       // moved its share this round; more may be waiting
  kFinished,    // src reached EOF and dst has been shut down for writing
  kFailed,      // a socket error (err holds errno): reset the connection
};

// `budget`: most bytes to move before yielding to other connections.
PumpStatus Pump(int src, int dst, Direction& d, PipePool& pipes, size_t budget, int& err);

}  // namespace braid::relay
