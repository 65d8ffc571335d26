// Round-robin: the usable subflows with room take turns chunk by chunk, in id order, within the
// backup rule (backups only when no non-backup subflow is usable).
#pragma once

#include <optional>

#include "ustack/mptcp/scheduler.h"

namespace braid::ustack::mptcp {

class RoundRobinScheduler final : public Scheduler {
 public:
  SchedulerKind kind() const override { return SchedulerKind::kRoundRobin; }
  void GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) override;

 private:
  std::optional<SubflowId> last_;
};

}  // namespace braid::ustack::mptcp
