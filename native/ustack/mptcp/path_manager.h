// The in-stack path manager for one MPTCP connection, pure: events and time go in, decisions come
// out as PmActions for the caller to carry out (send ADD_ADDR / REMOVE_ADDR / MP_PRIO, open or close
// a subflow), as native/kernel/subflow_manager.h does for the kernel. What it decides:
//  - announcements: the passive side announces its other paths (ADD_ADDR), repeated until the peer
//    echoes them (RFC 8684 3.4.1; Linux pm_netlink add_timer: a timeout, at most kAddAddrRetrans);
//  - subflows: the active side opens one subflow per other local path to the peer's initial address,
//    and either side one from its initial path to each address the peer announces; within a limit;
//  - joins: accepted while under the subflow limit and the local path is up;
//  - re-creation: a subflow that closes while its path is up is opened again (backoff), a path that
//    comes back gets its subflows (and its announcement) again;
//  - MP_PRIO: flipping a path's backup flag at runtime flags each of its subflows.
// Not thread-safe: the owner serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "ustack/mptcp/scheduler.h"
#include "ustack/wire/instant.h"
#include "ustack/wire/ip_address.h"

namespace braid::ustack::mptcp {

struct LocalPath {
  std::uint8_t id = 0;  // MPTCP address id (0: the address the connection started from)
  Endpoint addr;        // port 0: any
  bool backup = false;  // its subflows are flagged backup (MP_JOIN B bit, MP_PRIO)
  bool signal = true;   // announce it to the peer (passive side)
  bool subflow = true;  // open subflows from it (active side)
  bool up = true;
};

struct RemoteAddr {
  std::uint8_t id = 0;
  Endpoint addr;
};

struct PmConfig {
  std::size_t max_subflows = 8;            // subflows besides the first (Linux "subflows" limit)
  std::size_t max_add_addr_accepted = 8;   // peer announcements acted on (Linux "add_addr_accepted")
  Duration add_addr_timeout = Duration::Millis(120000);  // Linux net.mptcp.add_addr_timeout default
  int add_addr_retrans = 3;                // Linux ADD_ADDR_RETRANS_MAX
  Duration retry_first = Duration::Millis(500);  // re-creating a lost subflow: first delay, doubling
  Duration retry_max = Duration::Millis(8000);
};

enum class PmActionKind : std::uint8_t {
  kAnnounce,       // send ADD_ADDR(local_id, local)
  kEchoAddAddr,    // echo the peer's ADD_ADDR(remote_id, remote) (RFC 8684 3.4.1: E flag)
  kRemoveAddr,     // send REMOVE_ADDR(local_id)
  kCreateSubflow,  // open a subflow local -> remote with MP_JOIN (backup: B bit)
  kCloseSubflow,   // close `subflow`
  kSetPrio,        // send MP_PRIO(backup) on `subflow`
};
const char* PmActionKindName(PmActionKind k);

struct PmAction {
  PmActionKind kind = PmActionKind::kAnnounce;
  std::uint8_t local_id = 0;
  std::uint8_t remote_id = 0;
  Endpoint local;
  Endpoint remote;
  SubflowId subflow = 0;
  bool backup = false;
};

enum class JoinDecision : std::uint8_t { kAccept, kRejectLimit, kRejectPathDown };

struct PmCounters {
  std::uint64_t announces = 0;          // ADD_ADDR sent, first time
  std::uint64_t announce_repeats = 0;   // ADD_ADDR sent again for want of an echo
  std::uint64_t add_addr_ignored = 0;   // peer announcements beyond max_add_addr_accepted
  std::uint64_t subflows_created = 0;   // create decisions
  std::uint64_t subflows_recreated = 0; // of which for a path or address that had lost its subflow
  std::uint64_t joins_accepted = 0;
  std::uint64_t joins_rejected = 0;
  std::uint64_t prio_changes = 0;       // MP_PRIO decisions
};

struct PmSubflowView {
  SubflowId id = 0;
  std::uint8_t local_id = 0;
  std::uint8_t remote_id = 0;
  bool backup = false;
};

class PathManager {
 public:
  // `active`: this end opened the connection (it creates subflows; the passive end announces).
  PathManager(const PmConfig& cfg, std::vector<LocalPath> paths, bool active);

  // The first subflow is established (MP_CAPABLE done) from local path `local_id` to `remote`.
  void OnEstablished(Instant now, SubflowId first, std::uint8_t local_id, const Endpoint& remote);
  void OnAddAddr(Instant now, const RemoteAddr& addr);    // the peer announced an address
  void OnAddAddrEcho(std::uint8_t local_id);              // the peer echoed our ADD_ADDR
  void OnRemoveAddr(Instant now, std::uint8_t remote_id); // the peer withdrew an address
  JoinDecision OnJoinRequest(std::uint8_t local_id);      // an MP_JOIN SYN arrived on local path
  // A subflow (created by a decision, or a join accepted) is established, or failed/closed.
  void OnSubflowEstablished(Instant now, SubflowId id, std::uint8_t local_id, std::uint8_t remote_id, bool backup);
  void OnSubflowCreateFailed(Instant now, std::uint8_t local_id, std::uint8_t remote_id);
  void OnSubflowClosed(Instant now, SubflowId id);
  void OnPathChange(Instant now, std::uint8_t local_id, bool up);
  void SetBackup(Instant now, std::uint8_t local_id, bool backup);  // MP_PRIO at runtime
  void Tick(Instant now);
  Instant NextDeadline() const;  // Instant{INT64_MAX} when nothing is scheduled

  std::vector<PmAction> TakeActions() { return std::exchange(actions_, {}); }
  std::vector<PmSubflowView> Subflows() const;
  const PmCounters& counters() const { return counters_; }

 private:
  using Pair = std::pair<std::uint8_t, std::uint8_t>;  // (local id, remote id)
  struct Sub {
    std::uint8_t local_id = 0;
    std::uint8_t remote_id = 0;
    bool backup = false;
  };
  struct Retry {
    Instant due;
    int failures = 0;
  };
  struct Announcement {
    Instant due;
    int repeats = 0;
    bool echoed = false;
  };

  const LocalPath* Path(std::uint8_t id) const;
  bool HasSubflow(const Pair& p) const;
  std::vector<Pair> Wanted() const;
  void Refresh(Instant now);
  void ScheduleRetry(Instant now, const Pair& p);

  PmConfig cfg_;
  std::map<std::uint8_t, LocalPath> paths_;
  bool active_;
  bool established_ = false;
  std::uint8_t first_local_ = 0;
  std::map<std::uint8_t, RemoteAddr> remotes_;  // 0: the initial address
  std::map<SubflowId, Sub> subflows_;
  std::map<Pair, Instant> pending_;   // creates decided, not yet established or failed
  std::map<Pair, Retry> retries_;     // lost or failed: next attempt
  std::map<std::uint8_t, Announcement> announced_;
  std::vector<PmAction> actions_;
  PmCounters counters_;
};

}  // namespace braid::ustack::mptcp
