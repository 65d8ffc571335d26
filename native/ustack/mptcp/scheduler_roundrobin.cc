#include "ustack/mptcp/scheduler_roundrobin.h"

namespace braid::ustack::mptcp {

void RoundRobinScheduler::GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) {
  out.clear();
  const SchedSubflow* first = nullptr;  // lowest id with room: where the turn wraps to
  const SchedSubflow* next = nullptr;   // lowest id above the last one served
  for (const SchedSubflow* s : UsableTier(subflows)) {
    if (s->send_space == 0) continue;
    if (first == nullptr || s->id < first->id) first = s;
    if (last_ && s->id > *last_ && (next == nullptr || s->id < next->id)) next = s;
  }
  const SchedSubflow* pick = next != nullptr ? next : first;
  if (pick == nullptr) return;
  last_ = pick->id;
  out.push_back(pick->id);
}

}  // namespace braid::ustack::mptcp
