// The data level on one subflow: a SubflowHook (MP_CAPABLE, fallback) that, once MPTCP is
// negotiated, owns the connection's Msk and speaks DSS (RFC 8684 3.3) on the subflow's segments.
//  out: every segment carries the DATA_ACK; a data segment carries the Msk mapping that covers it
//       (the whole mapping, repeated on each of its segments, as Linux does for TSO; the subflow's TCP
//       never lets a segment straddle two mappings: PayloadLimit), a DATA_FIN alone rides on the next
//       segment (a pure ACK the connection asks for).
//  in:  DSS mappings (and the implicit mapping of an MP_CAPABLE ACK with data) go to Msk::OnMapping,
//       DATA_ACKs with the descaled TCP window to Msk::OnDataAck, 32-bit values expanded first.
// On the wire a DATA_FIN counts in the Data-Level Length (RFC 8684 3.3.3: data bytes + 1; a DATA_FIN
// alone has length 1 and subflow sequence number 0); DssMapping::length counts data bytes only, so
// this hook adds and removes that octet.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "ustack/mptcp/msk.h"
#include "ustack/mptcp/subflow_hook.h"

namespace braid::ustack::mptcp {

// The state one MPTCP connection's hook shares with its owner (MptcpStack), which outlives neither:
// both hold it by shared_ptr, so a subflow TCP lingering in TIME-WAIT never sees a freed owner.
struct MptcpConnState {
  MskConfig msk_config;
  std::unique_ptr<Msk> msk;  // set once MPTCP is negotiated
  bool fallback = false;     // plain TCP: the subflow is the connection
  std::optional<DssMapping> pending_data_fin;  // a DATA_FIN alone for the next segment
  std::uint64_t data_ack_sent = 0;             // the DATA_ACK last put on the wire
  bool reset_by_hook = false;                  // a DSS error made the subflow reset
};

class DssHook : public SubflowHook {
 public:
  static constexpr SubflowId kInitialSubflow = 1;

  DssHook(SubflowContext& ctx, Role role, std::uint64_t owner, std::shared_ptr<MptcpConnState> conn);

  // Subflow sequence numbers of our SYN and the peer's (relative sequence numbers are from these).
  std::uint32_t iss() const { return iss_; }
  std::uint32_t irs() const { return irs_; }
  std::uint8_t snd_wscale() const { return snd_wscale_; }
  const std::shared_ptr<MptcpConnState>& conn() const { return conn_; }

  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override;
  void OnSegmentOut(TcpRepr& seg, TcpState state) override;
  std::uint32_t PayloadLimit(std::uint32_t seq) const override;

 protected:
  std::uint32_t DataOptionSpace() const override;
  void OnDataSegmentOut(TcpRepr& seg, OptionBuffer& out) override;
  bool OnDataSegmentIn(const TcpRepr& seg, const ReceivedOptions& opts) override;
  void OnMptcpEstablished() override;
  void OnFallback() override;

 private:
  std::shared_ptr<MptcpConnState> conn_;
  std::uint32_t iss_ = 0;
  std::uint32_t irs_ = 0;
  bool we_scale_ = false;       // our SYN offered window scaling
  std::optional<std::uint8_t> peer_scale_;  // the peer's SYN did
  std::uint8_t snd_wscale_ = 0;  // RFC 7323: in effect only when both SYNs carried it
};

}  // namespace braid::ustack::mptcp
