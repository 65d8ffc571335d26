#pragma once
// The userspace path manager's decisions, apart from any socket: which subflows each MPTCP
// connection should have (one per usable path), which addresses to announce, when to re-create a
// subflow whose path came back, and which subflows to flag backup (MP_PRIO) so the peer sends
// where this node wants to receive. Events and link changes go in; commands come out through
// PmActions. Not thread-safe: the owner serialises calls.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernel/pm_events.h"
#include "kernel/pm_netlink.h"

namespace braid::kernel {

struct PmPath {
  uint8_t id = 0;  // 1..255: the MPTCP address id this node uses for the path's address
  std::string name;
  int32_t ifindex = 0;
  std::vector<PmAddress> addresses;  // port 0
  bool signal = true;   // announce the address to peers on connections they opened
  bool subflow = true;  // open subflows from it on connections this node opened
  bool backup = false;  // open its subflows flagged backup (when no preference says otherwise)
};

// Commands, each returning 0 or an errno.
class PmActions {
 public:
  virtual ~PmActions() = default;
  virtual int Announce(uint32_t token, uint8_t id, const PmAddress& local) = 0;
  virtual int CreateSubflow(uint32_t token, uint8_t id, const PmAddress& local, int32_t ifindex, bool backup,
                            const PmAddress& remote) = 0;
  virtual int DestroySubflow(uint32_t token, const PmAddress& local, const PmAddress& remote) = 0;
  virtual int SetBackup(uint32_t token, const PmAddress& local, const PmAddress& remote, bool backup) = 0;
  // The interface the kernel routes `remote` out of, 0 when unknown: the link a subflow really
  // uses, whatever its local address (on a host that accepts any local address on any link,
  // a subflow to this node's path-0 address may arrive over path 1).
  virtual int32_t RouteInterface(const PmAddress& remote) = 0;
};

struct PmCounters {
  uint64_t events = 0;
  uint64_t subflows_created = 0;     // SUBFLOW_CREATE commands the kernel took
  uint64_t subflow_create_errors = 0;
  uint64_t subflows_recreated = 0;   // subflows established again on a path that had lost one
  uint64_t subflows_destroyed = 0;   // destroyed because their path went down
  uint64_t announces = 0;
  uint64_t announce_errors = 0;
  uint64_t prio_changes = 0;         // MP_PRIO sent
  uint64_t prio_errors = 0;
};

struct PmSubflowView {
  uint8_t path = 0;  // 0: on no configured path
  PmAddress local;
  PmAddress remote;
  bool backup = false;
};

struct PmConnectionView {
  uint32_t token = 0;
  bool server_side = false;
  std::vector<PmSubflowView> subflows;
  std::vector<uint8_t> active_paths;  // where the preference wants data now; empty without one
};

struct PmPathView {
  uint8_t id = 0;
  std::string name;
  bool up = false;
};

class SubflowManager {
 public:
  // Retry delays for a subflow that failed or was lost: first, doubling up to max.
  static constexpr int64_t kRetryFirstMs = 500;
  static constexpr int64_t kRetryMaxMs = 8000;
  // A create the kernel took but that neither established nor failed by then is tried again.
  static constexpr int64_t kPendingTimeoutMs = 10000;

  SubflowManager(std::vector<PmPath> paths, PmActions& actions);

  void OnEvent(const PmEvent& ev, int64_t now_ms);
  void OnLink(int32_t ifindex, bool up, int64_t now_ms);
  // Tiers of path ids, most wanted first: data should flow on the first tier that has a usable
  // path (link up, subflow established); the other subflows are flagged backup. Empty tiers:
  // no preference, flags stay as created. Kept for a token not seen yet (events may lag).
  void SetPreference(uint32_t token, std::vector<std::vector<uint8_t>> tiers, int64_t now_ms);
  void Tick(int64_t now_ms);
  int64_t NextDeadline() const;  // INT64_MAX when nothing is scheduled

  const PmCounters& counters() const { return counters_; }
  std::vector<PmConnectionView> Connections() const;
  std::vector<PmPathView> Paths() const;

 private:
  struct Subflow {
    uint8_t path = 0;
    PmAddress local;
    PmAddress remote;
    bool backup = false;
  };
  struct PathAttempt {
    bool pending = false;       // a create is in flight
    int64_t pending_since = 0;
    int64_t due = 0;            // 0: no retry scheduled
    int failures = 0;
    bool lost = false;          // it had a subflow that closed: the next one is a re-creation
  };
  struct Conn {
    bool server_side = false;
    bool established = false;
    PmAddress local0;
    PmAddress remote0;
    std::vector<Subflow> subflows;
    std::map<uint8_t, PmAddress> announced;  // peer address id -> address
    std::map<uint8_t, PathAttempt> attempts;  // by path id
    std::vector<std::vector<uint8_t>> tiers;
    std::vector<uint8_t> active;
  };
  struct PendingPreference {
    std::vector<std::vector<uint8_t>> tiers;
    int64_t since = 0;
  };

  const PmPath* PathById(uint8_t id) const;
  uint8_t PathByIfindex(int32_t ifindex) const;
  uint8_t PathOf(const PmAddress& local, const PmAddress& remote, int32_t ifindex) const;
  const PmAddress* PathAddress(const PmPath& p, int family) const;
  bool PathUp(uint8_t id) const;
  bool HasSubflow(const Conn& c, uint8_t path) const;
  // Where a new subflow from path p should go: the peer's announced address closest to p's
  // address, else the address the connection started with.
  PmAddress RemoteFor(const Conn& c, const PmPath& p) const;
  void OpenMissing(uint32_t token, Conn& c, int64_t now_ms);
  void TryCreate(uint32_t token, Conn& c, const PmPath& p, int64_t now_ms);
  void ScheduleRetry(PathAttempt& a, int64_t now_ms);
  void Announce(uint32_t token, Conn& c);
  void ApplyPreference(uint32_t token, Conn& c);

  std::vector<PmPath> paths_;
  std::map<uint8_t, bool> up_;  // by path id
  PmActions& actions_;
  std::map<uint32_t, Conn> conns_;
  std::map<uint32_t, PendingPreference> pending_prefs_;
  PmCounters counters_;
};

}  // namespace braid::kernel
