// Packet schedulers for the connection level: which subflow carries the next chunk of data. The
// interface follows Linux's mptcp_sched_ops (sched.c: get_send for new data, get_retrans for
// reinjected data); a scheduler sees plain values describing the subflows and keeps no pointer to
// them, so it is table-testable and selectable per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ustack/wire/instant.h"

namespace braid::ustack::mptcp {

// The caller's handle for a subflow (unique within a connection).
using SubflowId = std::uint32_t;

// What a scheduler knows of one subflow.
struct SchedSubflow {
  SubflowId id = 0;
  bool usable = false;    // established and not failed: may carry data at all
  bool backup = false;    // either end flagged it backup (MP_JOIN B bit or MP_PRIO)
  Duration srtt;          // smoothed RTT of the subflow's TCP
  std::uint32_t send_space = 0;  // bytes its TCP takes now (congestion window and send buffer)
};

enum class SchedulerKind : std::uint8_t { kMinRtt, kRoundRobin, kRedundant, kNumaLocal };
const char* SchedulerKindName(SchedulerKind k);

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual SchedulerKind kind() const = 0;
  // Subflows that carry the next chunk of new data: one, or every copy's subflow for the redundant
  // scheduler. Empty: wait (none usable, or the ones to use have no room now).
  virtual void GetSend(std::span<const SchedSubflow> subflows, std::vector<SubflowId>& out) = 0;
  // The subflow that carries reinjected data; by default the one GetSend would pick first.
  virtual std::optional<SubflowId> GetRetrans(std::span<const SchedSubflow> subflows);
  // The preferred subflows (numa-local only; others ignore it).
  virtual void SetPreferred(std::vector<SubflowId> /*preferred*/) {}
};

std::unique_ptr<Scheduler> MakeScheduler(SchedulerKind kind);

// Backup rule shared by every scheduler (as Linux's mptcp_subflow_get_send): the usable non-backup
// subflows when there is one, else the usable backup subflows. Room is not considered here: a
// usable non-backup subflow that is merely full keeps the backups idle.
std::vector<const SchedSubflow*> UsableTier(std::span<const SchedSubflow> subflows);
// The lowest-RTT entry with room, or null.
const SchedSubflow* LowestRttWithRoom(const std::vector<const SchedSubflow*>& candidates);

}  // namespace braid::ustack::mptcp
