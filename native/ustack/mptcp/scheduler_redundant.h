// Redundant: every usable subflow (within the backup rule) carries every chunk, for latency over
// lossy paths; the receiver's reassembly drops the copies. A chunk waits until all of them have
// room, so the slowest subflow sets the pace, as in the out-of-tree redundant schedulers.
#pragma once

#include "ustack/mptcp/scheduler.h"

namespace braid::ustack::mptcp {

class RedundantScheduler final : public Scheduler {
 public:
  SchedulerKind kind() const override { return SchedulerKind::kRedundant; }
  void GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) override;
  std::optional<SubflowId> GetRetrans(std::span<const SchedSubflow> subflows) override;
};

}  // namespace braid::ustack::mptcp
