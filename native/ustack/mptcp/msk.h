// The MPTCP connection level ("msk", as Linux calls it), sans-IO: one data stream carried over any
// number of subflows. It sees plain values only (DssMapping, DataAck, subflow byte spans, Instant);
// the subflows' TCP, the option codec and the path manager live elsewhere. What it does:
//  - receive: per-subflow mapping trackers turn each subflow's in-order bytes into DSN runs, placed
//    in one Reassembly (out of order across subflows, duplicates dropped, DATA_FIN ordered);
//  - send: a send buffer indexed by DSN, freed by DATA_ACKs (64-bit), limited by the peer's shared
//    receive window (RFC 8684 3.3.5), cut into DssMappings and assigned to subflows by a Scheduler;
//  - reinjection: the unacknowledged data of a failed subflow is assigned again to others;
//  - DATA_FIN: sent after the last byte, repeated until DATA_ACKed.
// Sequence space: our first data byte is local IDSN + 1, the peer's remote IDSN + 1 (RFC 8684
// 3.3: the SYN takes the IDSN). Subflow sequence numbers are relative to each subflow's ISN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ustack/mptcp/mapping.h"
#include "ustack/mptcp/mapping_tracker.h"
#include "ustack/mptcp/reassembly.h"
#include "ustack/mptcp/scheduler.h"
#include "ustack/wire/instant.h"

namespace braid::ustack::mptcp {

struct MskConfig {
  std::size_t send_buffer = 4u << 20;  // bytes the application may queue ahead of the DATA_ACK
  std::size_t recv_buffer = 4u << 20;  // connection-level receive buffer: the largest window
  std::uint16_t max_mapping = 16384;   // largest DSS mapping made (the Data-Level Length is 16 bits)
  bool checksums = false;              // DSS checksums negotiated (MP_CAPABLE C flag)
  std::uint32_t initial_peer_window = 65535;  // usable before the first DATA_ACK (RFC 9293 default)
  Duration data_fin_rto = Duration::Millis(200);  // first DATA_FIN repeat; doubles, at least 2*srtt
  Duration data_fin_rto_max = Duration::Millis(8000);
  SchedulerKind scheduler = SchedulerKind::kMinRtt;
};

// What the caller tells the connection about one subflow, refreshed as it changes.
struct SubflowParams {
  bool established = true;  // fully established (MP_CAPABLE/MP_JOIN done)
  bool backup = false;      // either end flagged it backup (MP_JOIN B bit, MP_PRIO)
  Duration srtt;            // the subflow TCP's smoothed RTT
  // Bytes the subflow's TCP takes now; PollTransmit consumes it as it assigns data, the caller
  // refreshes it before the next poll.
  std::uint32_t send_space = 0;
};

// One chunk for one subflow: the caller queues `data` on the subflow's TCP (the bytes at subflow
// sequence mapping.ssn ..) and sends the DSS mapping with them. A DATA_FIN alone (length 0, empty
// data) goes in a DSS option on any segment of that subflow, e.g. a pure ACK. `data` points into
// the send buffer and is valid until the next call that changes the connection.
struct Transmit {
  SubflowId subflow = 0;
  DssMapping mapping;
  std::span<const std::uint8_t> data;
  bool reinjection = false;  // data that was first assigned to another subflow
};

// Named counters: odd input is never silent (one line of meaning each, Linux mib.h style).
struct MskCounters {
  std::uint64_t mappings_rejected = 0;     // DSS mappings refused (MappingStatusIsError): subflow should reset
  std::uint64_t mappings_ignored = 0;      // repeated or stale mappings (harmless)
  std::uint64_t rx_fresh_bytes = 0;        // new connection-level bytes received
  std::uint64_t rx_duplicate_bytes = 0;    // received again (reinjection, redundant copies): dropped (Linux DUPDATA)
  std::uint64_t rx_beyond_window_bytes = 0;  // past the right edge or the DATA_FIN: dropped
  std::uint64_t rx_no_room_bytes = 0;      // would open too many holes: dropped
  std::uint64_t data_fin_rejected = 0;     // DATA_FIN contradicting an earlier one or received data
  std::uint64_t data_ack_unsent = 0;       // DATA_ACK beyond anything sent: ignored (as Linux)
  std::uint64_t tx_bytes = 0;              // bytes assigned to subflows, copies and reinjections included
  std::uint64_t tx_reinjected_bytes = 0;   // bytes assigned again after their subflow failed
  std::uint64_t tx_data_fin_repeats = 0;   // DATA_FIN sent again because no DATA_ACK covered it
  std::uint64_t subflows_failed = 0;
  std::uint64_t data_csum_err = 0;         // received mappings whose DSS checksum was wrong (Linux DataCsumErr)
  std::uint64_t csum_unverifiable = 0;     // mappings starting before bytes already taken: not checkable, taken
};

class Msk {
 public:
  Msk(const MskConfig& cfg, std::uint64_t local_idsn, std::uint64_t remote_idsn);

  // ---- subflows
  // `tx_ssn`/`rx_ssn`: relative subflow sequence number of the first data byte each way (1).
  void AddSubflow(SubflowId id, const SubflowParams& params, std::uint32_t tx_ssn = 1, std::uint32_t rx_ssn = 1);
  void UpdateSubflow(SubflowId id, const SubflowParams& params);
  // The subflow is gone (reset, timed out, path down): its data not yet DATA_ACKed is reinjected on
  // the others; bytes it received but had not handed over are lost to it (the peer reinjects).
  void SubflowFailed(SubflowId id);
  void RemoveSubflow(SubflowId id);  // SubflowFailed, then forgotten
  // The subflow stopped making progress (RTO after RTO: a path gone dark) but is not gone: what it
  // holds that the peer has not DATA_ACKed is assigned again to the others, while it keeps its own
  // copy (its TCP still retransmits; the peer drops whichever arrives second). The caller stops
  // scheduling on it (SubflowParams::established false) until it makes progress again (Linux
  // mptcp_subflow_set_stale, then __mptcp_retrans).
  void SubflowStale(SubflowId id);
  bool HasSubflow(SubflowId id) const { return subflows_.count(id) != 0; }
  void SetScheduler(std::unique_ptr<Scheduler> s) { sched_ = std::move(s); }
  Scheduler& scheduler() { return *sched_; }

  // ---- application
  std::size_t Send(std::span<const std::uint8_t> data);  // copies what fits
  void Shutdown();                                        // DATA_FIN after the last byte queued
  std::size_t Recv(std::span<std::uint8_t> out);
  std::span<const std::uint8_t> RecvPeek() const { return rx_.Peek(); }
  void RecvConsume(std::size_t n) { rx_.Consume(n); }
  std::size_t readable() const { return rx_.readable(); }
  bool eof() const { return rx_.fin_reached() && rx_.readable() == 0; }  // peer's DATA_FIN read
  std::optional<std::uint64_t> peer_data_fin() const { return rx_.data_fin(); }  // known, maybe not reached
  std::size_t send_free() const;
  bool send_done() const;  // every byte and our DATA_FIN DATA_ACKed

  // ---- receive path, from the subflow hook
  // 32-bit values from a DSS option, expanded against our state (RFC 8684 3.3.1).
  std::uint64_t ExpandIncomingDsn(std::uint32_t dsn32) const;       // against the DATA_ACK we send
  std::uint64_t ExpandIncomingDataAck(std::uint32_t ack32) const;   // against our DATA_UNA
  // A DSS mapping seen on subflow `id`; its DATA_FIN, if any, is taken unless the mapping is an error.
  MappingStatus OnMapping(SubflowId id, const DssMapping& m);
  // `in_order` are the subflow's next in-order bytes (its receive buffer from the front). Returns
  // how many were taken (the caller releases them from the subflow): fewer when the rest has no
  // mapping yet (hold at most a receive window of it, then reset the subflow: RFC 8684 3.3.1).
  // `more`: the bytes that follow `in_order` elsewhere in memory (a wrapped ring buffer), only read
  // to check a mapping's DSS checksum that reaches into them; they are taken in a later call.
  std::size_t OnSubflowData(SubflowId id, std::span<const std::uint8_t> in_order,
                            std::span<const std::uint8_t> more = {});
  // A DATA_ACK and the TCP window (descaled) of a segment on subflow `id` (RFC 8684 3.3.5: the
  // window is relative to the DATA_ACK, and its right edge never moves left).
  void OnDataAck(SubflowId id, DataAck ack, std::uint32_t window);

  // ---- DSS checksums (RFC 8684 3.3.1, 3.7), when cfg.checksums: OnSubflowData takes a mapping's
  // bytes only once all of them are at hand and its checksum holds. A failure stops the subflow
  // there: OnSubflowData takes nothing more from it until the caller decides (AcceptFailedMapping,
  // or the subflow is reset and its data reinjected by the peer).
  std::optional<std::uint64_t> checksum_failure(SubflowId id) const;  // DSN of the failed mapping
  bool valid_checksum_seen(SubflowId id) const;  // a mapping on this subflow passed (Linux valid_csum_seen)
  // Take the failed mapping's bytes after all, as Linux does on its way to fall back to TCP.
  void AcceptFailedMapping(SubflowId id);

  // ---- fallback to TCP after the handshake (RFC 8684 3.7, one subflow): the subflow becomes the
  // connection. Returns the bytes the application queued that no subflow carries yet (they go to
  // the subflow's TCP after what it already has) and empties the send buffer: what was assigned
  // already is in the subflow's TCP, which delivers it reliably.
  std::vector<std::uint8_t> TakeUnsent();

  // ---- send path
  // Assigns what may go now: reinjections first, then new data within the peer's window, then a
  // DATA_FIN alone when due.
  std::vector<Transmit> PollTransmit(Instant now);
  Instant PollAt() const;  // next DATA_FIN repeat; Instant{INT64_MAX} when none
  // The mapping to put on an outgoing (or retransmitted) segment of subflow `id` starting at
  // relative `ssn`; the segment must end by mapping.ssn + mapping.length. Null when unknown.
  const DssMapping* MappingForSegment(SubflowId id, std::uint32_t ssn) const;
  // The subflow's TCP SND.UNA (relative): mappings both subflow-acked and DATA_ACKed are dropped.
  void OnSubflowAcked(SubflowId id, std::uint32_t snd_una_ssn);

  // ---- what every segment advertises
  DataAck data_ack() const { return DataAck{rx_.rcv_nxt()}; }
  std::uint32_t receive_window() const { return rx_.window(); }  // the TCP window field on every subflow

  std::uint64_t snd_una() const { return snd_una_; }
  std::uint64_t snd_nxt() const { return snd_nxt_; }
  std::uint64_t wnd_end() const { return wnd_end_; }
  const MskCounters& counters() const { return counters_; }

 private:
  struct Subflow {
    SubflowParams params;
    MappingTracker rx;
    std::uint32_t tx_next_ssn = 1;
    std::uint32_t tx_una_ssn = 1;
    std::deque<DssMapping> tx_maps;  // assigned, not yet both subflow-acked and DATA_ACKed
    bool failed = false;
    bool valid_csum_seen = false;
    std::optional<std::uint32_t> csum_checked_end;  // the last checked mapping ends here (relative ssn)
    std::optional<std::uint64_t> csum_failure;      // DSN of the mapping whose checksum failed
  };
  // Checks the checksum of the mapping at the front of `sf`'s stream once all of it is in
  // `in_order`; false: wait for more bytes, or it failed (recorded).
  bool CheckFront(Subflow& sf, std::span<const std::uint8_t> in_order, std::span<const std::uint8_t> more);
  struct Range {
    std::uint64_t dsn = 0;
    std::uint64_t len = 0;
  };

  std::vector<SchedSubflow> Views(bool ignore_room) const;
  std::span<const std::uint8_t> Bytes(std::uint64_t dsn, std::size_t len) const;
  void Assign(SubflowId id, std::uint64_t dsn, std::uint32_t len, bool reinjection, std::vector<Transmit>& out);
  void AddReinjection(std::uint64_t dsn, std::uint64_t len);
  void Prune(Subflow& sf);
  void FreeAcked();
  Duration DataFinRto() const;

  MskConfig cfg_;
  std::unique_ptr<Scheduler> sched_;
  std::map<SubflowId, Subflow> subflows_;
  Reassembly rx_;

  // Send buffer: buf_[head_ ..] holds the data from buf_dsn_ (== snd_una_ until the DATA_FIN) on.
  std::vector<std::uint8_t> buf_;
  std::size_t head_ = 0;
  std::uint64_t buf_dsn_;  // DSN of buf_[head_]
  std::uint64_t snd_una_;
  std::uint64_t snd_nxt_;  // next new DSN to assign
  std::uint64_t wnd_end_;  // the peer's right edge
  std::deque<Range> reinject_;  // in DSN order, disjoint

  bool fin_requested_ = false;
  std::uint64_t fin_dsn_ = 0;
  bool fin_sent_ = false;       // in flight (cleared when its subflow fails: send it again)
  bool fin_ever_sent_ = false;  // a DATA_ACK may cover it
  Instant fin_deadline_;
  Duration fin_backoff_;
  Instant now_;  // of the PollTransmit in progress

  MskCounters counters_;
};

}  // namespace braid::ustack::mptcp
