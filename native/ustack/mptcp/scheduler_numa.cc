#include "ustack/mptcp/scheduler_numa.h"

#include <algorithm>

namespace braid::ustack::mptcp {

bool NumaLocalScheduler::Preferred(SubflowId id) const {
  return std::find(preferred_.begin(), preferred_.end(), id) != preferred_.end();
}

void NumaLocalScheduler::GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) {
  out.clear();
  std::vector<SchedSubflow> local;
  for (const SchedSubflow& s : subflows) {
    if (s.usable && Preferred(s.id)) local.push_back(s);
  }
  // A usable preferred subflow that is merely full keeps the others idle, as backups are kept.
  const auto tier = local.empty() ? UsableTier(subflows) : UsableTier(local);
  if (const SchedSubflow* s = LowestRttWithRoom(tier)) out.push_back(s->id);
}

}  // namespace braid::ustack::mptcp
