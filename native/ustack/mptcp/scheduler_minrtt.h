// The default scheduler: the lowest-RTT subflow that has room, among the non-backup subflows (the
// backups only when no non-backup subflow is usable). When the fastest subflow is full the next
// fastest takes the data, so paths aggregate as their windows allow.
#pragma once

#include "ustack/mptcp/scheduler.h"

namespace braid::ustack::mptcp {

class MinRttScheduler final : public Scheduler {
 public:
  SchedulerKind kind() const override { return SchedulerKind::kMinRtt; }
  void GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) override;
};

}  // namespace braid::ustack::mptcp
