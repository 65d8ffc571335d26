// Receive side of one subflow: which of the subflow's in-order bytes carry which DSNs. DSS mappings
// (RFC 8684 section 3.3.1) are recorded as they arrive on any segment, keyed by relative subflow
// sequence number; the connection level then reads the subflow's in-order byte stream through
// Front/Advance. The model is Linux subflow.c get_mapping_status, with two differences: several
// mappings may be held at once (a mapping may arrive with a segment that is still out of order),
// and a mapping that overlaps a held one is accepted when it maps every shared byte to the same DSN
// (Linux keeps one mapping and accepts only an identical repeat).
//
// DssMapping::length counts payload bytes only: a DATA_FIN is not in subflow sequence space, and
// its DSN is dsn + length (the codec subtracts the DATA_FIN's octet from the Data-Level Length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ustack/mptcp/mapping.h"

namespace braid::ustack::mptcp {

enum class MappingStatus : std::uint8_t {
  kOk,                // recorded
  kDuplicate,         // identical to a held mapping: ignored (a mapping may repeat, RFC 8684 3.3.1)
  kStale,             // covers only subflow bytes already delivered: ignored
  kDataFinOnly,       // length 0 with DATA_FIN: nothing in subflow sequence space, nothing recorded
  kInfinite,          // length 0 without DATA_FIN: the infinite mapping, fall back (RFC 8684 3.7)
  kMismatch,          // maps a subflow byte to another DSN than a held mapping (Linux DSSNOMATCH)
  kChecksumMismatch,  // checksum present or absent against what was negotiated (RFC 8684 3.3.0)
  kTooMany,           // more than kMaxMappings held: dropped (resource limit)
};
const char* MappingStatusName(MappingStatus s);
// True for the statuses that are protocol errors (the subflow should be reset, RFC 8684 3.3.1/3.7).
inline bool MappingStatusIsError(MappingStatus s) {
  return s == MappingStatus::kInfinite || s == MappingStatus::kMismatch ||
         s == MappingStatus::kChecksumMismatch || s == MappingStatus::kTooMany;
}

// A run of in-order subflow bytes that one mapping covers.
struct MappedRun {
  std::uint64_t dsn = 0;     // DSN of the first byte
  std::uint32_t length = 0;  // bytes, never 0
};

class MappingTracker {
 public:
  static constexpr std::size_t kMaxMappings = 64;

  // `next_ssn`: relative subflow sequence number of the first data byte (1: the SYN took 0).
  explicit MappingTracker(std::uint32_t next_ssn = 1, bool checksums = false)
      : next_ssn_(next_ssn), checksums_(checksums) {}

  MappingStatus Add(const DssMapping& m);

  // The mapped run at the front of the in-order stream, clipped to `available` bytes; nullopt when
  // no held mapping covers the next byte yet (RFC 8684 3.3.1: the caller may hold such data for up
  // to a receive window, then must reset the subflow).
  std::optional<MappedRun> Front(std::uint32_t available) const;
  // The held mapping Front reads from (the one covering the next byte that reaches furthest), null
  // when none covers it.
  const DssMapping* FrontMapping() const;
  // `n` in-order bytes were delivered (or discarded); exhausted mappings are retired.
  void Advance(std::uint32_t n);

  std::uint32_t next_ssn() const { return next_ssn_; }
  std::size_t held() const { return held_.size(); }

 private:
  bool Consistent(const DssMapping& a, const DssMapping& b) const;

  std::uint32_t next_ssn_;
  bool checksums_;
  std::vector<DssMapping> held_;             // length > 0, in arrival order
  std::optional<DssMapping> last_retired_;   // checks a late repeat of a consumed mapping
};

}  // namespace braid::ustack::mptcp
