// MP_JOIN (RFC 8684 3.2) on a further subflow, passive side: the peer joins a connection we hold
// by its token. SYN (token, the peer's nonce) -> SYN/ACK with our nonce and the leftmost 64 bits of
// HMAC(our key || its key, our nonce || its nonce) -> third ACK with the leftmost 160 bits of
// HMAC(its key || our key, its nonce || our nonce), checked -> the subflow joins the Msk and owes
// the peer an ACK (the "fourth ACK" Linux waits for before sending data on the subflow). From then
// on it speaks DSS like the first subflow. An unknown token, a bad HMAC, or a third ACK without
// MP_JOIN refuses the subflow (RST), as Linux does (MPJoinNoTokenFound, MPJoinAckHMacFailure); the
// RST carries MP_TCPRST with Linux's reason (RFC 8684 3.6): "MPTCP-specific error" for an unknown
// token, a bad HMAC or a missing MP_JOIN, "administratively prohibited" for a connection that takes
// no subflow now (set_refuse_reason). Not yet: the active side (we join the peer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "ustack/mptcp/dss_hook.h"
#include "ustack/mptcp/options.h"
#include "ustack/tcp/option_hook.h"

namespace braid::ustack::mptcp {

struct JoinCounters {
  std::uint64_t syn_rx = 0;          // MP_JOIN SYNs received for a known token (MPJoinSynRx)
  std::uint64_t no_token = 0;        // MP_JOIN SYNs for no connection of ours: refused (MPJoinNoTokenFound)
  std::uint64_t ack_rx = 0;          // third ACKs with a valid HMAC: the subflow joined (MPJoinAckRx)
  std::uint64_t ack_hmac_failure = 0;  // third ACKs with a wrong HMAC: refused (MPJoinAckHMacFailure)
  std::uint64_t ack_missing = 0;     // the ACK after our SYN/ACK carried no MP_JOIN: refused
  IntegrityCounters* integrity = nullptr;  // MP_TCPRST on refusals (JoinRefusedRst, MpTcpRstTx)
};

class JoinHook : public TcpOptionHook {
 public:
  // `conn` null: the token named no connection; the SYN is refused.
  JoinHook(std::shared_ptr<MptcpConnState> conn, SubflowId id, JoinCounters& counters);

  // DSS padded to a 4-byte boundary, as tcp/ lays options out.
  std::uint32_t ReservedOptionSpace() const override { return joined_ ? (kDssSpace + 3) & ~3u : 0; }
  std::uint32_t AckOptionSpace() const override { return joined_ && dss_ ? dss_->AckSpace() : 0; }
  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override;
  void OnSegmentOut(TcpRepr& seg, TcpState state) override;
  std::uint32_t PayloadLimit(std::uint32_t seq) const override;
  void OnResetOut(TcpRepr& rst) override;
  void OnResetIn(const TcpRepr& rst) override;

  // The MP_TCPRST reason when this hook refuses the subflow (default: MPTCP-specific error).
  void set_refuse_reason(std::uint8_t reason) { refuse_reason_ = reason; }
  DssSubflow* dss() { return dss_ ? &*dss_ : nullptr; }
  bool joined() const { return joined_; }
  bool backup() const { return backup_; }

 private:
  std::optional<DssSubflow> dss_;
  JoinCounters& counters_;
  bool syn_seen_ = false;
  bool joined_ = false;
  bool backup_ = false;
  std::uint32_t local_nonce_ = 0;
  std::uint32_t remote_nonce_ = 0;
  std::uint8_t refuse_reason_ = kRstMptcpError;
  OptionBuffer out_;
};

}  // namespace braid::ustack::mptcp
