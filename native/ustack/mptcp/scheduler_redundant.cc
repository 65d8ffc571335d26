#include "ustack/mptcp/scheduler_redundant.h"

namespace braid::ustack::mptcp {

void RedundantScheduler::GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) {
  out.clear();
  for (const SchedSubflow* s : UsableTier(subflows)) {
    if (s->send_space == 0) {
      out.clear();
      return;
    }
    out.push_back(s->id);
  }
}

std::optional<SubflowId> RedundantScheduler::GetRetrans(std::span<const SchedSubflow> subflows) {
  // A reinjection needs one copy: the fastest subflow with room.
  if (const SchedSubflow* s = LowestRttWithRoom(UsableTier(subflows))) return s->id;
  return std::nullopt;
}

}  // namespace braid::ustack::mptcp
