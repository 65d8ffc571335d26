#include "relay/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace braid::relay {

void ClosePipe(Pipe& pipe) {
  if (pipe.read_fd >= 0) close(pipe.read_fd);
  if (pipe.write_fd >= 0) close(pipe.write_fd);
  pipe.read_fd = pipe.write_fd = -1;
}

PipePool::~PipePool() {
  for (auto& p : idle_) ClosePipe(p);
}

Pipe PipePool::Acquire() {
  if (!idle_.empty()) {
    Pipe p = idle_.back();
    idle_.pop_back();
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return Pipe{};
  // A larger pipe moves more per splice; failure only costs throughput, so it is ignored.
  (void)fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
  return Pipe{fds[0], fds[1]};
}

void PipePool::Release(Pipe pipe, bool empty) {
  if (!pipe.valid()) return;
  if (empty && idle_.size() < max_idle_) {
    idle_.push_back(pipe);
  } else {
    ClosePipe(pipe);
  }
}

}  // namespace braid::relay
