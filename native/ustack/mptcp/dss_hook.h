// The data level on the subflows of one MPTCP connection.
//
// DssSubflow is DSS (RFC 8684 3.3) on one subflow, shared by both kinds of subflow hook:
//  out: every segment carries the DATA_ACK; a data segment carries the Msk mapping that covers it
//       (the whole mapping, repeated on each of its segments, as Linux does for TSO; the subflow's TCP
//       never lets a segment straddle two mappings: PayloadLimit), a DATA_FIN alone rides on the next
//       segment (a pure ACK the connection asks for).
//  in:  DSS mappings go to Msk::OnMapping, DATA_ACKs with the descaled TCP window to Msk::OnDataAck,
//       32-bit values expanded first.
// On the wire a DATA_FIN counts in the Data-Level Length (RFC 8684 3.3.3: data bytes + 1; a DATA_FIN
// alone has length 1 and subflow sequence number 0); DssMapping::length counts data bytes only, so
// DssSubflow adds and removes that octet.
//
// DssHook is the first subflow: a SubflowHook (MP_CAPABLE, fallback) that creates the connection's
// Msk once MPTCP is negotiated (and the implicit mapping of an MP_CAPABLE ACK with data).
// JoinHook (join_hook.h) is every further subflow (MP_JOIN).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "ustack/mptcp/msk.h"
#include "ustack/mptcp/subflow_hook.h"
#include "ustack/tcp/tcp_types.h"

namespace braid::ustack::mptcp {

// The state one MPTCP connection's hooks share with their owner (MptcpStack), which outlives none of
// them: all hold it by shared_ptr, so a subflow TCP lingering in TIME-WAIT never sees a freed owner.
struct MptcpConnState {
  MskConfig msk_config;
  std::unique_ptr<Msk> msk;  // set once MPTCP is negotiated
  bool fallback = false;     // plain TCP: the first subflow is the connection
  std::optional<KeyInfo> local_key;   // once MPTCP is negotiated (MP_JOIN HMACs)
  std::optional<KeyInfo> remote_key;
  SocketId socket = kNoSocket;        // the MPTCP socket (its first subflow), once the app holds it
  SubflowId next_subflow = 2;         // the first subflow is 1
  std::map<SubflowId, DssMapping> pending_data_fin;  // a DATA_FIN alone for a subflow's next segment
  std::set<SubflowId> ack_owed;       // subflows that must send an ACK now (MP_JOIN's fourth ACK)
  std::uint64_t data_ack_sent = 0;    // the DATA_ACK last put on the wire
  // DSS checksums (when negotiated) of the mappings assigned to each subflow, in subflow sequence
  // order: a mapping's checksum covers all its bytes, so it is computed once, at assignment.
  struct TxChecksum {
    std::uint32_t ssn = 0;
    std::uint32_t end = 0;
    std::uint16_t csum = 0;
  };
  std::map<SubflowId, std::deque<TxChecksum>> tx_checksums;
  // Path-manager signals (RFC 8684 3.4 ADD_ADDR / REMOVE_ADDR, 3.3.8 MP_PRIO). Outgoing ones ride,
  // one per segment, on a subflow's next segment without payload (as Linux: they do not fit next
  // to a full DSS); received ones wait for the owner (MptcpStack), which checks and acts on them.
  std::map<SubflowId, std::deque<Option>> signals_out;
  struct SignalIn {
    SubflowId subflow = 0;
    Option option;
  };
  std::vector<SignalIn> signals_in;
  bool checksums() const { return msk != nullptr && msk_config.checksums; }

  // ---- integrity after the handshake (mptcp/integrity.h; RFC 8684 3.5-3.7)
  IntegrityCounters* counters = nullptr;  // the stack's; null only in tests that build the state by hand
  // A subflow other than the first joined once: no fallback to TCP any more, whatever fails
  // (Linux: msk->allow_infinite_fallback cleared on the first join).
  bool joined_ever = false;
  std::map<SubflowId, std::uint64_t> mp_fail_owed;  // MP_FAIL (that DSN) for a subflow's next ACK or RST
  bool mp_fail_sent = false;       // we reported a failed checksum: the peer answers with an infinite mapping
  bool infinite_map_owed = false;  // the peer's MP_FAIL: our next data segment carries the infinite mapping
  std::map<SubflowId, std::uint8_t> rst_reason;  // MP_TCPRST reason on the RST of a subflow we reset
  bool fastclose = false;    // we abort: every subflow's RST carries MP_FASTCLOSE with the peer's key
  bool fastclosed = false;   // the peer's MP_FASTCLOSE with our key arrived: the connection is reset
  std::optional<std::uint8_t> peer_rst_reason;  // the last MP_TCPRST reason received on any subflow
  bool fallback_allowed(SubflowId id) const { return id == 1 && !joined_ever; }
  void Count(IntegrityCounter c) {
    if (counters != nullptr) counters->Inc(c);
  }
};

class DssSubflow {
 public:
  DssSubflow(std::shared_ptr<MptcpConnState> conn, SubflowId id) : conn_(std::move(conn)), id_(id) {}

  void OnSynOut(const TcpRepr& syn);  // our SYN or SYN/ACK: ISS, whether we offered window scaling
  void OnSynIn(const TcpRepr& syn);   // the peer's: its window scale
  std::uint32_t PayloadLimit(std::uint32_t seq) const;
  // Option bytes on a segment without payload: the DATA_ACK, or a whole DSS when a DATA_FIN alone
  // waits to go (padded to 4), plus the next signal waiting for this subflow.
  std::uint32_t AckSpace() const;
  const Option* NextSignal() const;  // the next signal waiting for this subflow, or null
  bool SignalAlone() const;          // it does not fit beside the DATA_ACK: it goes alone
  void Out(TcpRepr& seg, OptionBuffer& out);
  // False: a protocol error (the subflow resets).
  bool In(const TcpRepr& seg, const ReceivedOptions& opts);
  // Options on a RST of this subflow: MP_FASTCLOSE when we abort the connection, MP_FAIL when
  // owed, MP_TCPRST always (RFC 8684 3.6; Linux puts it on every RST of a subflow).
  void ResetOut(TcpRepr& rst, OptionBuffer& out);
  // An accepted RST: its MP_TCPRST reason, MP_FASTCLOSE, MP_FAIL.
  void ResetIn(const TcpRepr& rst);
  bool mapping_seen() const { return mapping_seen_; }  // any DSS mapping received on this subflow
  void set_mapping_seen() { mapping_seen_ = true; }

  SubflowId id() const { return id_; }
  std::uint32_t iss() const { return iss_; }
  const std::shared_ptr<MptcpConnState>& conn() const { return conn_; }

 private:
  std::shared_ptr<MptcpConnState> conn_;
  SubflowId id_;
  std::uint32_t iss_ = 0;
  bool we_scale_ = false;                    // our SYN offered window scaling
  std::optional<std::uint8_t> peer_scale_;   // the peer's SYN did
  std::uint8_t snd_wscale_ = 0;              // RFC 7323: in effect only when both SYNs carried it
  bool mapping_seen_ = false;
  // MP_FASTCLOSE (RFC 8684 3.5), on a RST or an ACK; true: the connection is to be reset.
  bool FastcloseIn(const ReceivedOptions& opts);
};

// Option bytes DSS takes at most: 64-bit DATA_ACK and mapping (Linux sends both 64-bit), checksum.
inline constexpr std::uint32_t kDssSpace = kLenDssBase + kLenDssAck64 + kLenDssMap64;

class DssHook : public SubflowHook {
 public:
  static constexpr SubflowId kInitialSubflow = 1;

  DssHook(SubflowContext& ctx, Role role, std::uint64_t owner, std::shared_ptr<MptcpConnState> conn);

  const std::shared_ptr<MptcpConnState>& conn() const { return dss_.conn(); }
  DssSubflow& dss() { return dss_; }

  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override;
  void OnSegmentOut(TcpRepr& seg, TcpState state) override;
  std::uint32_t PayloadLimit(std::uint32_t seq) const override;
  std::uint32_t AckOptionSpace() const override;
  std::uint32_t ReservedOptionSpace() const override;
  void OnResetOut(TcpRepr& rst) override;
  void OnResetIn(const TcpRepr& rst) override;

 protected:
  std::uint32_t DataOptionSpace() const override { return kDssSpace + (checksum() ? kLenDssChecksum : 0); }
  void OnDataSegmentOut(TcpRepr& seg, OptionBuffer& out) override;
  bool OnDataSegmentIn(const TcpRepr& seg, const ReceivedOptions& opts) override;
  void OnMptcpEstablished() override;
  void OnFallback() override;
  void ImplicitMapping(const TcpRepr& seg, MpCapable& m) override;

 private:
  // The connection fell back to TCP after the handshake (decided by the data level): follow it.
  bool SyncFallback();

  DssSubflow dss_;
  OptionBuffer rst_out_;
};

// The DSS part of a subflow's hook (DssHook or JoinHook), null for others.
DssSubflow* DssOf(TcpOptionHook* hook);

}  // namespace braid::ustack::mptcp
