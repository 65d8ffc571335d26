#pragma once
// Moves one direction of a connection: src socket -> pipe -> dst socket with splice(), or through
// a user buffer where splice is refused. Never reads more from src than dst has taken
// (backpressure), and turns EOF on src into shutdown(SHUT_WR) on dst (half-close).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "relay/pipe_pool.h"

namespace braid::relay {

struct Direction {
  Pipe pipe;
  size_t in_pipe = 0;  // bytes read from src not yet written to dst
  uint64_t bytes = 0;  // bytes written to dst
  bool src_eof = false;
  bool finished = false;  // EOF propagated to dst
  bool copy_mode = false;
  std::unique_ptr<char[]> buffer;  // copy mode only
  size_t buffer_offset = 0;
};

enum class PumpStatus {
  kWouldBlock,  // src empty or dst full: wait for the next epoll edge
  kYield,       // moved its share this round; more may be waiting
  kFinished,    // src reached EOF and dst has been shut down for writing
  kFailed,      // a socket error (err holds errno): reset the connection
};

// `chunk`: most bytes per read; `budget`: most bytes to move before yielding.
PumpStatus Pump(int src, int dst, Direction& d, size_t chunk, size_t budget, int& err);

}  // namespace braid::relay
