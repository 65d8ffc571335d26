// MP_JOIN (RFC 8684 3.2) on a further subflow.
//
// Passive side: the peer joins a connection we hold
// by its token. SYN (token, the peer's nonce) -> SYN/ACK with our nonce and the leftmost 64 bits of
// HMAC(our key || its key, our nonce || its nonce) -> third ACK with the leftmost 160 bits of
// HMAC(its key || our key, its nonce || our nonce), checked -> the subflow joins the Msk and owes
// the peer an ACK (the "fourth ACK" Linux waits for before sending data on the subflow). From then
// on it speaks DSS like the first subflow. An unknown token, a bad HMAC, or a third ACK without
// MP_JOIN refuses the subflow (RST), as Linux does (MPJoinNoTokenFound, MPJoinAckHMacFailure); the
// RST carries MP_TCPRST with Linux's reason (RFC 8684 3.6): "MPTCP-specific error" for an unknown
// token, a bad HMAC or a missing MP_JOIN, "administratively prohibited" for a connection that takes
// no subflow now (set_refuse_reason: fallen back, closing, over the path manager's limits).
//
// Active side (we join the peer's connection from another address): SYN with MP_JOIN (the peer's
// token, our nonce, our address id, B flag) -> the SYN/ACK's truncated HMAC is checked (a mismatch,
// or a SYN/ACK without MP_JOIN, resets the subflow: Linux MPJoinSynAckHMacFailure) -> the third
// ACK carries the 160-bit HMAC and nothing else (it is repeated on every segment until...) -> the
// peer's first segment after it (its "fourth ACK", carrying DSS) makes the subflow fully
// established: only then does it join the Msk and carry data (Linux: MPTCP_SUBFLOW fully
// established). A lost third ACK makes the peer repeat its SYN/ACK, which our ACK answers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "ustack/mptcp/dss_hook.h"
#include "ustack/mptcp/options.h"
#include "ustack/tcp/option_hook.h"

namespace braid::ustack::mptcp {

struct JoinCounters {
  // active side
  std::uint64_t syn_tx = 0;            // joins started: MP_JOIN SYN sent (MPJoinSynTx)
  std::uint64_t synack_rx = 0;         // SYN/ACKs with a valid HMAC (MPJoinSynAckRx)
  std::uint64_t synack_hmac_failure = 0;  // SYN/ACKs with a wrong HMAC: reset (MPJoinSynAckHMacFailure)
  std::uint64_t synack_missing = 0;    // SYN/ACKs without MP_JOIN: reset
  std::uint64_t fully_established = 0;  // the peer's fourth ACK seen: the subflow carries data
  // passive side
  std::uint64_t syn_rx = 0;          // MP_JOIN SYNs received for a known token (MPJoinSynRx)
  std::uint64_t no_token = 0;        // MP_JOIN SYNs for no connection of ours: refused (MPJoinNoTokenFound)
  std::uint64_t ack_rx = 0;          // third ACKs with a valid HMAC: the subflow joined (MPJoinAckRx)
  std::uint64_t ack_hmac_failure = 0;  // third ACKs with a wrong HMAC: refused (MPJoinAckHMacFailure)
  std::uint64_t ack_missing = 0;     // the ACK after our SYN/ACK carried no MP_JOIN: refused
  IntegrityCounters* integrity = nullptr;  // MP_TCPRST on refusals (JoinRefusedRst, MpTcpRstTx)
};

class JoinHook : public TcpOptionHook {
 public:
  // Passive: `conn` null when the token named no connection; the SYN is refused.
  JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters);
  // Active: we join `conn` (MPTCP established, both keys known) from address id `local_id`.
  struct Active {
    std::uint8_t local_id = 0;
    bool backup = false;  // our B flag: the peer should use it as a backup only
  };
  JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters, Active active);

  // Passive: our address id and B flag for the SYN/ACK (before it goes out).
  void set_local(std::uint8_t local_id, bool backup) {
    local_id_ = local_id;
    local_backup_ = backup;
  }

  // DSS padded to a 4-byte boundary, as tcp/ lays options out; the active side's third ACK (until
  // the peer confirms it) carries the 24-byte MP_JOIN ACK alone.
  std::uint32_t ReservedOptionSpace() const override;
  std::uint32_t AckOptionSpace() const override;
  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override;
  void OnSegmentOut(TcpRepr& seg, TcpState state) override;
  std::uint32_t PayloadLimit(std::uint32_t seq) const override;
  void OnResetOut(TcpRepr& rst) override;
  void OnResetIn(const TcpRepr& rst) override;

  // The MP_TCPRST reason when this hook refuses the subflow (default: MPTCP-specific error).
  void set_refuse_reason(std::uint8_t reason) { refuse_reason_ = reason; }
  DssSubflow* dss() { return dss_ ? &*dss_ : nullptr; }
  bool active() const { return active_; }
  // In the Msk: passive once the third ACK checked out, active once the peer confirmed it.
  bool joined() const { return joined_; }
  bool backup() const { return backup_; }  // the peer's B flag (MP_JOIN SYN or SYN/ACK)
  std::uint8_t local_id() const { return local_id_; }
  std::uint8_t remote_id() const { return remote_id_; }  // the peer's address id
  bool local_backup() const { return local_backup_; }

 private:
  bool ActiveIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts);
  void ActiveOut(TcpRepr& seg);

  std::optional<DssSubflow> dss_;
  JoinCounters& counters_;
  bool active_ = false;
  bool syn_seen_ = false;
  bool synack_ok_ = false;  // active: the SYN/ACK's HMAC checked out; the third ACK is owed
  bool joined_ = false;
  bool backup_ = false;
  bool local_backup_ = false;
  std::uint8_t local_id_ = 0;
  std::uint8_t remote_id_ = 0;
  std::uint32_t local_nonce_ = 0;
  std::uint32_t remote_nonce_ = 0;
  std::uint8_t refuse_reason_ = kRstMptcpError;
  OptionBuffer out_;
};

}  // namespace braid::ustack::mptcp
