// Counters for what keeps an MPTCP connection honest once it is established (RFC 8684): DSS
// checksums and MP_FAIL with the infinite-mapping fallback (3.3.1, 3.7), MP_TCPRST (3.6) and
// MP_FASTCLOSE (3.5). One family for the whole stack (one lcore), named after Linux's MIB where
// Linux has one (net/mptcp/mib.h), one line of meaning each.
#pragma once

#include <array>
#include <cstdint>

namespace braid::ustack::mptcp {

#define BRAID_MPTCP_INTEGRITY_COUNTERS(X)                                                              \
  X(DataCsumErr, "a received mapping's DSS checksum was wrong (Linux DataCsumErr)")                    \
  X(CsumFallback, "the first mapping of the only subflow failed its checksum: plain TCP without "      \
                  "MP_FAIL, as Linux's early-failure fallback")                                        \
  X(CsumReset, "a checksum failed with several subflows: that subflow reset with MP_FAIL and "         \
               "MP_TCPRST 'middlebox interference' (Linux MPTCP_RST_EMIDDLEBOX); its data reinjected") \
  X(MpFailTx, "MP_FAIL sent (MPFailTx)")                                                               \
  X(MpFailRx, "MP_FAIL received (MPFailRx)")                                                           \
  X(MpFailIgnored, "MP_FAIL received where no infinite-mapping fallback is allowed (several "          \
                   "subflows ever): ignored, as Linux")                                                \
  X(InfiniteMapTx, "infinite mapping sent after the peer's MP_FAIL: plain TCP from there (InfiniteMapTx)") \
  X(InfiniteMapRx, "infinite mapping received: plain TCP from there (InfiniteMapRx)")                  \
  X(InfiniteMapRefused, "infinite mapping received where fallback is not allowed: subflow reset")      \
  X(DssFallback, "data without a DSS mapping on the only subflow before any mapping: plain TCP "        \
                 "(Linux DSSFallback, MPCapableDataFallback)")                                         \
  X(MpTcpRstTx, "RST sent carrying MP_TCPRST (MPRstTx)")                                               \
  X(MpTcpRstRx, "RST received carrying MP_TCPRST (MPRstRx); reasons in IntegrityCounters::rst_reason_rx") \
  X(JoinRefusedRst, "MP_JOIN refused with a RST carrying MP_TCPRST (no token, bad HMAC, not accepted)") \
  X(MpFastcloseTx, "RST sent carrying MP_FASTCLOSE: we aborted an MPTCP connection (MPFastcloseTx)")   \
  X(MpFastcloseRx, "MP_FASTCLOSE with our key received: the whole connection reset (MPFastcloseRx)")   \
  X(MpFastcloseBadKey, "MP_FASTCLOSE with a key that is not ours: ignored")

enum class IntegrityCounter : std::uint8_t {
#define BRAID_MPTCP_INTEGRITY_ENUM(name, help) k##name,
  BRAID_MPTCP_INTEGRITY_COUNTERS(BRAID_MPTCP_INTEGRITY_ENUM)
#undef BRAID_MPTCP_INTEGRITY_ENUM
      kCount
};
const char* IntegrityCounterName(IntegrityCounter c);
const char* IntegrityCounterHelp(IntegrityCounter c);

struct IntegrityCounters {
  std::array<std::uint64_t, static_cast<std::size_t>(IntegrityCounter::kCount)> values{};
  // MP_TCPRST received, by reason code (RFC 8684 3.6: 4 bits).
  std::array<std::uint64_t, 16> rst_reason_rx{};
  void Inc(IntegrityCounter c) { ++values[static_cast<std::size_t>(c)]; }
  std::uint64_t Get(IntegrityCounter c) const { return values[static_cast<std::size_t>(c)]; }
};

}  // namespace braid::ustack::mptcp
