#include "ustack/mptcp/scheduler.h"

#include "ustack/mptcp/scheduler_minrtt.h"
#include "ustack/mptcp/scheduler_numa.h"
#include "ustack/mptcp/scheduler_redundant.h"
#include "ustack/mptcp/scheduler_roundrobin.h"

namespace braid::ustack::mptcp {

const char* SchedulerKindName(SchedulerKind k) {
  switch (k) {
    case SchedulerKind::kMinRtt: return "min-rtt";
    case SchedulerKind::kRoundRobin: return "round-robin";
    case SchedulerKind::kRedundant: return "redundant";
    case SchedulerKind::kNumaLocal: return "numa-local";
  }
  return "?";
}

std::optional<SubflowId> Scheduler::GetRetrans(std::span<const SchedSubflow> subflows) {
  std::vector<SubflowId> ids;
  GetSend(subflows, ids);
  if (ids.empty()) return std::nullopt;
  return ids.front();
}

std::unique_ptr<Scheduler> MakeScheduler(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::kMinRtt: return std::make_unique<MinRttScheduler>();
    case SchedulerKind::kRoundRobin: return std::make_unique<RoundRobinScheduler>();
    case SchedulerKind::kRedundant: return std::make_unique<RedundantScheduler>();
    case SchedulerKind::kNumaLocal: return std::make_unique<NumaLocalScheduler>();
  }
  return std::make_unique<MinRttScheduler>();
}

std::vector<const SchedSubflow*> UsableTier(std::span<const SchedSubflow> subflows) {
  std::vector<const SchedSubflow*> active;
  std::vector<const SchedSubflow*> backup;
  for (const SchedSubflow& s : subflows) {
    if (!s.usable) continue;
    (s.backup ? backup : active).push_back(&s);
  }
  return active.empty() ? backup : active;
}

const SchedSubflow* LowestRttWithRoom(const std::vector<const SchedSubflow*>& candidates) {
  const SchedSubflow* best = nullptr;
  for (const SchedSubflow* s : candidates) {
    if (s->send_space == 0) continue;
    if (best == nullptr || s->srtt < best->srtt) best = s;
  }
  return best;
}

}  // namespace braid::ustack::mptcp
