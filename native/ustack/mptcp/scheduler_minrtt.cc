#include "ustack/mptcp/scheduler_minrtt.h"

namespace braid::ustack::mptcp {

void MinRttScheduler::GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) {
  out.clear();
  if (const SchedSubflow* s = LowestRttWithRoom(UsableTier(subflows))) out.push_back(s->id);
}

}  // namespace braid::ustack::mptcp
