// MPTCP connections over a Stack, with the Stack's socket API (stack/socket_api.h): an application
// listens, connects, sends and receives as with plain TCP; a connection is MPTCP when the peer
// speaks it and plain TCP (the subflow itself) when it does not (RFC 8684 3.1 fallback).
//
// A connection starts as one subflow (its TcpConnection in the Stack, whose SocketId is also the
// MPTCP socket's id) carrying a DssHook, which creates the connection level (Msk). The peer may add
// subflows with MP_JOIN to our listener (JoinHook; they never reach the application's Accept).
// Poll runs the Stack in two halves and moves bytes between them: each subflow's receive buffer ->
// Msk (within the Msk's window: what does not fit stays in the subflow and closes its TCP window),
// Msk::PollTransmit -> the chosen subflow's send buffer. Subflows close (FIN) once both DATA_FINs
// are acknowledged, as Linux does; a subflow that fails earlier has its data reinjected.
//
// Multipath: each connection has a PathManager (path_manager.h) once MPTCP is established. Its
// local paths are the Stack's interfaces (address id = interface index), its remote addresses the
// peer's initial address plus what the peer announces. MptcpStack carries out its decisions: opens
// subflows with an active MP_JOIN from an interface (Stack::ConnectFrom), sends ADD_ADDR (with its
// HMAC; the passive side announces, as Linux's in-kernel PM with `signal` endpoints), echoes the
// peer's, REMOVE_ADDR and MP_PRIO, and acts on the peer's. A join towards an announced address
// leaves from the interface on that address's subnet when one is up (Linux leaves the source to the
// routing table). A subflow with stale_loss_cnt retransmission timeouts in a row is stale: no new
// data, and what it holds is reinjected on the others until it makes progress again.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <vector>

#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/dss_hook.h"
#include "ustack/mptcp/join_hook.h"
#include "ustack/mptcp/msk.h"
#include "ustack/mptcp/path_manager.h"
#include "ustack/mptcp/subflow_hook.h"
#include "ustack/stack/socket_api.h"
#include "ustack/stack/stack.h"

namespace braid::ustack::mptcp {

// What one local path (a Stack interface) does, like a Linux MPTCP endpoint's flags.
struct PathOptions {
  bool backup = false;  // its subflows are backups (MP_JOIN B bit, MP_PRIO)
  bool signal = true;   // announced (ADD_ADDR) by the passive side
  bool subflow = true;  // the active side opens a subflow from it to the peer's initial address
};

struct MptcpStackConfig {
  bool enabled = true;  // false: plain TCP (no MP_CAPABLE offered or answered)
  SubflowConfig subflow;
  MskConfig msk;
  PmConfig pm;
  std::vector<PathOptions> paths;  // indexed by interface; missing entries take the defaults
  int stale_loss_cnt = 4;          // RTOs in a row that make a subflow stale (Linux net.mptcp.stale_loss_cnt)
  MptcpStackConfig() {
    msk.max_mapping = 65000;  // large mappings, few segment cuts (DATA_FIN + 1 still fits 16 bits)
  }
};

// Path management events, stack-wide (named as Linux's MPTcpExt counters).
#define BRAID_MPTCP_PATH_COUNTERS(X)                                                                  \
  X(AddAddrTx, "ADD_ADDR sent, repeats included")                                                   \
  X(AddAddr, "ADD_ADDR received with a valid HMAC")                                                 \
  X(AddAddrDrop, "ADD_ADDR received with a wrong HMAC: ignored")                                    \
  X(EchoAddTx, "ADD_ADDR echo sent")                                                                \
  X(EchoAdd, "ADD_ADDR echo received")                                                              \
  X(RmAddrTx, "REMOVE_ADDR sent")                                                                   \
  X(RmAddr, "REMOVE_ADDR received")                                                                 \
  X(RmSubflow, "subflows closed for a REMOVE_ADDR received")                                        \
  X(MpPrioTx, "MP_PRIO sent")                                                                       \
  X(MpPrioRx, "MP_PRIO received")                                                                   \
  X(MpJoinSynTx, "active joins started (subflow opened with MP_JOIN)")                              \
  X(MpJoinSynTxConnectErr, "active joins that could not be opened (no address, no port)")           \
  X(MpJoinFailed, "active joins that ended before fully established (RST, timeout, bad HMAC)")     \
  X(MpJoinRejected, "passive joins refused by the path manager (limit, path down)")                 \
  X(SubflowStale, "subflows marked stale (stale_loss_cnt RTOs in a row): data reinjected")          \
  X(SubflowRecover, "stale subflows that made progress again")

enum class PathCounter : std::uint8_t {
#define BRAID_MPTCP_PATH_ENUM(name, help) k##name,
  BRAID_MPTCP_PATH_COUNTERS(BRAID_MPTCP_PATH_ENUM)
#undef BRAID_MPTCP_PATH_ENUM
      kCount
};
const char* PathCounterName(PathCounter c);
const char* PathCounterHelp(PathCounter c);

struct PathCounters {
  std::array<std::uint64_t, static_cast<std::size_t>(PathCounter::kCount)> values{};
  void Inc(PathCounter c, std::uint64_t n = 1) { values[static_cast<std::size_t>(c)] += n; }
  std::uint64_t Get(PathCounter c) const { return values[static_cast<std::size_t>(c)]; }
};

// One subflow of a connection, for introspection.
struct SubflowInfo {
  SubflowId id = 0;
  Endpoint local;
  Endpoint remote;
  std::uint8_t local_id = 0;   // our address id (the interface index)
  std::uint8_t remote_id = 0;  // the peer's address id
  bool backup = false;         // either end flagged it backup
  bool established = false;    // carries data (MP_CAPABLE / MP_JOIN done, not stale, path up)
  std::uint64_t bytes_sent = 0;      // data bytes handed to its TCP (reinjections and copies included)
  std::uint64_t bytes_received = 0;  // data bytes taken from its TCP into the connection level
};

class MptcpStack : public SocketApi {
 public:
  // `stack` must outlive this object; its Poll is not to be called directly any more.
  MptcpStack(Stack& stack, MptcpStackConfig config = {});
  MptcpStack(const MptcpStack&) = delete;
  MptcpStack& operator=(const MptcpStack&) = delete;

  // ---- driver side: replaces Stack::Poll / NextDeadline
  StackPollResult Poll(Instant now);
  std::optional<Instant> NextDeadline() const;

  // ---- SocketApi
  OpenResult Listen(const Endpoint& local, int backlog = 0) override;
  OpenResult Connect(Instant now, const Endpoint& remote, std::uint16_t local_port = 0) override;
  SocketId Accept(SocketId listener) override;
  IoResult Send(SocketId id, std::span<const std::uint8_t> data) override;
  TcpError SendBuffer(SocketId id, TcpBufferPtr& buffer) override;  // copies into the Msk when MPTCP
  IoResult Recv(SocketId id, std::span<std::uint8_t> out) override;
  std::span<const std::uint8_t> RecvPeek(SocketId id) override;
  void RecvConsume(SocketId id, std::size_t n) override;
  TcpError Shutdown(SocketId id) override;  // DATA_FIN after the queued data
  TcpError Close(SocketId id) override;
  TcpError Abort(SocketId id) override;
  SocketStatus Status(SocketId id) override;
  void DrainEvents(const std::function<void(SocketId, std::uint32_t readiness)>& on_event) override;

  // ---- introspection
  // MPTCP negotiated (false while negotiating, after fallback, for unknown ids).
  bool IsMptcp(SocketId id) const;
  bool IsFallback(SocketId id) const;
  bool UsesChecksums(SocketId id) const;  // DSS checksums negotiated (either side's A bit)
  const Msk* msk(SocketId id) const;
  const HandshakeCounters& handshake_counters() const { return ctx_.counters; }
  const JoinCounters& join_counters() const { return join_counters_; }
  // Checksums, MP_FAIL, infinite mappings, MP_TCPRST, MP_FASTCLOSE (mptcp/integrity.h).
  const IntegrityCounters& integrity_counters() const { return ctx_.integrity; }
  // The reason of the last MP_TCPRST the peer sent on any subflow of the connection.
  std::optional<std::uint8_t> peer_reset_reason(SocketId id) const;
  // Subflows of the connection, the first included (0 for unknown ids and plain TCP: 1).
  std::size_t subflow_count(SocketId id) const;
  std::size_t connection_count() const { return conns_.size(); }
  Stack& stack() { return stack_; }

  // ---- paths
  // Flags the interface's path backup (or not): MP_PRIO on its subflows, the B bit on new joins.
  void SetPathBackup(Instant now, std::size_t iface, bool backup);
  // Down: its subflows close at once (RST) and their data is reinjected, REMOVE_ADDR tells the peer;
  // the initial subflow, which is the socket, stays open but carries nothing. Up: subflows (and the
  // announcement) come back.
  void SetPathUp(Instant now, std::size_t iface, bool up);
  // The connection's scheduler; false for unknown ids and plain TCP.
  bool SetScheduler(SocketId id, SchedulerKind kind);
  std::vector<SubflowInfo> subflows(SocketId id) const;
  const PmCounters* pm_counters(SocketId id) const;  // null when the connection has no path manager
  const PathCounters& path_counters() const { return path_counters_; }

 private:
  struct Sub {
    std::uint8_t local_id = 0;   // interface
    std::uint8_t remote_id = 0;
    std::uint8_t pm_local = 0;   // the path manager's pair for it (local differs after routing)
    bool active_join = false;    // we opened it with MP_JOIN
    bool synack_backup_taken = false;  // active join: the peer's SYN/ACK B flag copied to remote_backup
    bool pm_known = false;       // the path manager was told it is established
    bool local_backup = false;
    bool remote_backup = false;  // the peer's B flag or MP_PRIO
    bool stale = false;
    bool path_down_reinjected = false;
    std::optional<Instant> third_ack_at;  // active join, not yet confirmed: repeat the third ACK then
    int third_ack_repeats = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
  };
  struct Conn {
    std::shared_ptr<MptcpConnState> state;
    std::map<SubflowId, SocketId> subflows;  // the first (DssHook::kInitialSubflow) is the socket
    std::map<SubflowId, Sub> info;           // same keys as `subflows`
    std::unique_ptr<PathManager> pm;         // once MPTCP is established
    bool active = false;                     // we opened the connection
    bool app_shutdown = false;
    bool app_closed = false;
    bool subflows_closed = false;  // we closed the subflows (both DATA_FINs done)
    bool subflow_gone = false;     // the Stack freed the first subflow
    TcpError error = TcpError::kOk;  // the peer's MP_FASTCLOSE reset the whole connection
    // After a fallback to TCP mid-connection (RFC 8684 3.7) the first subflow is the connection:
    // the Msk's unread bytes are read first, its unsent bytes go to the subflow before new ones.
    bool handed_over = false;
    std::vector<std::uint8_t> fallback_tx;
    std::size_t fallback_tx_off = 0;
    bool tcp_shutdown = false;
    bool tcp_closed = false;
    bool fallback_tx_pending() const { return fallback_tx_off < fallback_tx.size(); }
  };
  std::unique_ptr<TcpOptionHook> MakeHook(SubflowHook::Role role);
  std::unique_ptr<TcpOptionHook> ListenerHook(const FourTuple& tuple, const TcpRepr& syn);
  Conn* Find(SocketId id);
  const Conn* Find(SocketId id) const;
  bool UsesMsk(const Conn& c) const { return c.state->msk != nullptr && !c.state->fallback; }
  // Takes established connections off the listeners: joins go to their connection, the rest wait
  // for the application's Accept.
  void CollectAccepted();
  // Moves bytes and DATA_FINs between one connection's subflows and its Msk.
  void Pump(Instant now, Conn& c);
  // Path management of one connection: creates its PathManager, feeds it the subflows' changes
  // and the peer's signals, carries out its actions.
  void ManagePaths(Instant now, Conn& c);
  void StartPm(Instant now, Conn& c);
  void OnSignal(Instant now, Conn& c, const MptcpConnState::SignalIn& in);
  void CarryOut(Instant now, Conn& c, const PmAction& a);
  void OpenJoin(Instant now, Conn& c, const PmAction& a);
  void CloseSubflow(Instant now, Conn& c, SubflowId sf);
  // A subflow to carry a signal: established, on an up path, not stale, not `avoid_local` (-1: any).
  std::optional<SubflowId> Carrier(const Conn& c, int avoid_local = -1) const;
  void QueueSignal(Conn& c, SubflowId sf, Option o);
  PathOptions PathAt(std::size_t iface) const;
  std::optional<IpAddress> IfaceAddress(std::size_t iface, bool v4) const;
  bool PathUp(std::size_t iface) const { return iface >= path_up_.size() || path_up_[iface]; }
  // A mapping's checksum failed on subflow `sf` (RFC 8684 3.7); false when the subflow is gone.
  bool OnChecksumFailure(Conn& c, SubflowId sf, SocketId sid, std::uint64_t dsn);
  // Fallback to TCP after the handshake: hands the Msk's unsent bytes to the first subflow.
  void HandOver(Conn& c);
  void PumpFallback(Conn& c);
  // The peer's MP_FASTCLOSE (RFC 8684 3.5): every subflow resets, the application sees a reset.
  void ResetAll(Conn& c);
  // Reads from the Msk while it holds bytes (MPTCP, or just fallen back to TCP).
  static bool ReadsMsk(const Conn& c) {
    return c.state->msk && (!c.state->fallback || c.state->msk->readable() > 0);
  }

  Stack& stack_;
  MptcpStackConfig cfg_;
  TokenTable tokens_;
  SubflowContext ctx_;
  std::map<SocketId, Conn> conns_;
  std::map<std::uint64_t, std::weak_ptr<MptcpConnState>> by_owner_;  // TokenTable owner -> connection
  std::map<SocketId, std::deque<SocketId>> accepted_;  // per listener: connections for Accept
  std::deque<SocketId> joins_waiting_;  // joined subflows whose connection the app has not accepted yet
  JoinCounters join_counters_;
  PathCounters path_counters_;
  std::vector<bool> path_up_;  // per interface (missing: up)
  std::uint64_t next_owner_ = 1;
  bool dirty_ = false;  // an application call left work for the next Poll
};

}  // namespace braid::ustack::mptcp
