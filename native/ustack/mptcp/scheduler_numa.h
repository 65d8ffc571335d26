// NUMA-local: data goes on the preferred subflows (set from outside, e.g. those whose NIC sits on
// the NUMA node of the receiving process, from braid's topology), lowest RTT first and within the
// backup rule; the other subflows only when none of the preferred ones is usable. With no preference
// it behaves as min-RTT.
#pragma once

#include <vector>

#include "ustack/mptcp/scheduler.h"

namespace braid::ustack::mptcp {

class NumaLocalScheduler final : public Scheduler {
 public:
  SchedulerKind kind() const override { return SchedulerKind::kNumaLocal; }
  void GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) override;
  void SetPreferred(std::vector<SubflowId> preferred) override { preferred_ = std::move(preferred); }

 private:
  bool Preferred(SubflowId id) const;
  std::vector<SubflowId> preferred_;
};

}  // namespace braid::ustack::mptcp
