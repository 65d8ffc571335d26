#pragma once
// Per-worker pool of pipes for splice(). Only empty pipes come back to the pool.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::relay {

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  bool valid() const { return read_fd >= 0; }
};

class PipePool {
 public:
  PipePool(uint32_t pipe_size, size_t max_idle) : pipe_size_(pipe_size), max_idle_(max_idle) {}
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // Returns an invalid Pipe (errno set) when pipe2 fails, e.g. out of fds.
  Pipe Acquire();
  // `empty`: the caller drained it. A pipe still holding bytes is closed instead.
  void Release(Pipe pipe, bool empty);
  uint32_t pipe_size() const { return pipe_size_; }

 private:
  uint32_t pipe_size_;
  size_t max_idle_;
  std::vector<Pipe> idle_;
};

void ClosePipe(Pipe& pipe);

}  // namespace braid::relay
