// The MPTCP v1 option codec (RFC 8684 section 3; layouts and acceptance rules as Linux's
// net/mptcp/options.c). Input is one kind-30 option's bytes AFTER kind and length, exactly what
// TcpRepr::mptcp holds (wire/tcp_repr.h); Emit writes the same span. A subtype is told apart from
// its variants by the option length alone (as the RFC lays them out), never by the TCP flags: which
// variant is legal on which segment is the subflow's business, not the codec's.
//
// Three families of names, as Linux's protocol.h: wire subtypes (`Subtype`, MPTCPOPT_*), option
// lengths including kind and length (`kLen*`, TCPOLEN_MPTCP_*), and bits saying what one segment
// carried (`kOpt*`, OPTION_MPTCP_*).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/mapping.h"
#include "ustack/wire/error.h"
#include "ustack/wire/ip_address.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack::mptcp {

// Wire subtypes (RFC 8684 section 8, the high nibble of the byte after the length).
enum class Subtype : std::uint8_t {
  kMpCapable = 0x0,
  kMpJoin = 0x1,
  kDss = 0x2,
  kAddAddr = 0x3,
  kRemoveAddr = 0x4,
  kMpPrio = 0x5,
  kMpFail = 0x6,
  kMpFastclose = 0x7,
  kMpTcprst = 0x8,
  kExperimental = 0xf,
};

inline constexpr std::uint8_t kMptcpVersion = 1;

// Option lengths on the wire, kind and length bytes included. The span TcpRepr::mptcp holds is
// two bytes shorter.
inline constexpr std::uint8_t kLenMpcSyn = 4;
inline constexpr std::uint8_t kLenMpcSynAck = 12;
inline constexpr std::uint8_t kLenMpcAck = 20;
inline constexpr std::uint8_t kLenMpcAckData = 22;
inline constexpr std::uint8_t kLenMpcAckDataCsum = 24;
inline constexpr std::uint8_t kLenMpjSyn = 12;
inline constexpr std::uint8_t kLenMpjSynAck = 16;
inline constexpr std::uint8_t kLenMpjAck = 24;
inline constexpr std::uint8_t kLenDssBase = 4;
inline constexpr std::uint8_t kLenDssAck32 = 4;
inline constexpr std::uint8_t kLenDssAck64 = 8;
inline constexpr std::uint8_t kLenDssMap32 = 10;  // DSN 4 + SSN 4 + data-level length 2
inline constexpr std::uint8_t kLenDssMap64 = 14;
inline constexpr std::uint8_t kLenDssChecksum = 2;
inline constexpr std::uint8_t kLenAddAddrBase = 8;    // IPv4, no HMAC (echo)
inline constexpr std::uint8_t kLenAddAddr6Base = 20;  // IPv6, no HMAC (echo)
inline constexpr std::uint8_t kLenAddAddrPort = 2;
inline constexpr std::uint8_t kLenAddAddrHmac = 8;
inline constexpr std::uint8_t kLenRemoveAddrBase = 3;  // plus one byte per address id
inline constexpr std::uint8_t kLenMpPrio = 3;
inline constexpr std::uint8_t kLenMpFail = 12;
inline constexpr std::uint8_t kLenMpFastclose = 12;
inline constexpr std::uint8_t kLenMpTcprst = 4;

// What one segment carried (ReceivedOptions::present).
enum OptionBit : std::uint32_t {
  kOptMpcSyn = 1u << 0,
  kOptMpcSynAck = 1u << 1,
  kOptMpcAck = 1u << 2,  // both keys; with or without the data-level length
  kOptMpjSyn = 1u << 3,
  kOptMpjSynAck = 1u << 4,
  kOptMpjAck = 1u << 5,
  kOptDss = 1u << 6,
  kOptAddAddr = 1u << 7,
  kOptRemoveAddr = 1u << 8,
  kOptMpPrio = 1u << 9,
  kOptMpFail = 1u << 10,
  kOptMpFastclose = 1u << 11,
  kOptMpTcprst = 1u << 12,
};
inline constexpr std::uint32_t kOptMpc = kOptMpcSyn | kOptMpcSynAck | kOptMpcAck;
inline constexpr std::uint32_t kOptMpj = kOptMpjSyn | kOptMpjSynAck | kOptMpjAck;

// MP_CAPABLE flag bits (RFC 8684 3.1: A B C D E F G H, most significant first).
inline constexpr std::uint8_t kMpcFlagChecksum = 0x80;       // A: checksum required
inline constexpr std::uint8_t kMpcFlagExtensibility = 0x40;  // B
inline constexpr std::uint8_t kMpcFlagNoJoinId0 = 0x20;      // C: do not join to this (id 0) address
inline constexpr std::uint8_t kMpcFlagReserved = 0x1e;       // D E F G
inline constexpr std::uint8_t kMpcFlagHmacSha256 = 0x01;     // H

// DSS flag bits (RFC 8684 3.3).
inline constexpr std::uint8_t kDssFlagDataFin = 0x10;  // F
inline constexpr std::uint8_t kDssFlagDsn64 = 0x08;    // m
inline constexpr std::uint8_t kDssFlagMap = 0x04;      // M
inline constexpr std::uint8_t kDssFlagAck64 = 0x02;    // a
inline constexpr std::uint8_t kDssFlagAck = 0x01;      // A

// MP_CAPABLE (RFC 8684 3.1). The variant follows from which fields are present:
//   SYN: no key (4 bytes); SYN/ACK: sender_key (12); third ACK: both keys (20);
//   first data ACK: both keys and data_len (22), plus checksum when negotiated (24).
struct MpCapable {
  std::uint8_t version = kMptcpVersion;
  bool checksum_required = false;  // A
  bool extensibility = false;      // B (Linux refuses options with it set)
  bool no_join_id0 = false;        // C
  bool hmac_sha256 = true;         // H (v1 requires it)
  std::uint8_t reserved_flags = 0;  // D..G as received, in place (mask kMpcFlagReserved)
  std::optional<std::uint64_t> sender_key;
  std::optional<std::uint64_t> receiver_key;
  std::optional<std::uint16_t> data_len;  // the mapping is implicit: DSN = IDSN + 1, SSN 1
  std::optional<std::uint16_t> checksum;
};

// MP_JOIN (RFC 8684 3.2).
struct MpJoinSyn {
  bool backup = false;
  std::uint8_t address_id = 0;
  std::uint32_t token = 0;  // the receiver's token
  std::uint32_t nonce = 0;  // the sender's random number
};
struct MpJoinSynAck {
  bool backup = false;
  std::uint8_t address_id = 0;
  std::uint64_t hmac = 0;  // leftmost 64 bits, big-endian (JoinSynAckHmac)
  std::uint32_t nonce = 0;
};
struct MpJoinAck {
  JoinAckHmac hmac{};  // leftmost 160 bits (JoinThirdAckHmac)
};

// DSS (RFC 8684 3.3). With dsn64 = false the mapping's dsn holds the 32 bits from the wire (expand
// it with ExpandDataSeq); likewise data_ack with ack64 = false. A DATA_FIN rides in the mapping
// (F without M means nothing and is dropped on parse, as Linux ignores it); checksum bytes after an
// option without a mapping are accepted and ignored (Linux).
struct Dss {
  std::optional<DataAck> data_ack;
  bool ack64 = true;
  std::optional<DssMapping> mapping;
  bool dsn64 = true;
};

// ADD_ADDR (RFC 8684 3.4.1). IPv4 or IPv6 by the address (IpAddress::is_v4); the HMAC is carried
// exactly when echo is false.
struct AddAddr {
  bool echo = false;
  std::uint8_t address_id = 0;
  IpAddress address;
  std::optional<std::uint16_t> port;
  std::uint64_t hmac = 0;  // rightmost 64 bits (AddAddrHmac); 0 and not sent when echo
};

// REMOVE_ADDR (RFC 8684 3.4.2): one to kRemoveAddrMaxIds ids (Linux's MPTCP_RM_IDS_MAX).
inline constexpr std::size_t kRemoveAddrMaxIds = 8;
struct RemoveAddr {
  std::array<std::uint8_t, kRemoveAddrMaxIds> ids{};
  std::uint8_t count = 0;
};

// MP_PRIO (RFC 8684 3.3.8; v1 dropped the address id: 3 bytes).
struct MpPrio {
  bool backup = false;
};

// MP_FAIL (RFC 8684 3.7): the 64-bit DSN where the checksum failed.
struct MpFail {
  std::uint64_t dsn = 0;
};

// MP_FASTCLOSE (RFC 8684 3.5): the receiver's key, proving the sender knows it.
struct MpFastclose {
  std::uint64_t receiver_key = 0;
};

// MP_TCPRST (RFC 8684 3.6) reason codes.
enum TcprstReason : std::uint8_t {
  kRstUnspecified = 0,
  kRstMptcpError = 1,
  kRstLackOfResources = 2,
  kRstAdministrativelyProhibited = 3,
  kRstTooMuchOutstandingData = 4,
  kRstUnacceptablePerformance = 5,
  kRstMiddleboxInterference = 6,
};
struct MpTcprst {
  bool transient = false;        // T
  std::uint8_t other_flags = 0;  // U V W as received (bits 3..1 of the nibble), in place
  std::uint8_t reason = kRstUnspecified;
};

using Option = std::variant<MpCapable, MpJoinSyn, MpJoinSynAck, MpJoinAck, Dss, AddAddr, RemoveAddr, MpPrio, MpFail,
                            MpFastclose, MpTcprst>;

// Parses one option body (after kind and length). kTruncated when empty, kUnsupported for a subtype
// this codec does not speak (MP_EXPERIMENTAL, unassigned), kBadOption when the length fits no
// variant of the subtype.
wire::WireError ParseOption(std::span<const std::uint8_t> body, Option* out);
// Length on the wire including kind and length (the TCPOLEN value); 0 when the Repr cannot be
// emitted (e.g. MP_CAPABLE with a receiver key but no sender key, REMOVE_ADDR with 0 or > 8 ids).
std::size_t OptionLen(const Option& o);
// Writes the body (OptionLen - 2 bytes). kBadOption when OptionLen is 0, kBufferTooSmall when short.
wire::WireError EmitOption(const Option& o, std::span<std::uint8_t> body);

// Linux's __mptcp_expand_seq: the 64-bit value whose low 32 bits are `low32` closest to `reference`
// (RFC 8684 3.3.1: a 32-bit DSN or DATA_ACK is the low half of the full number).
std::uint64_t ExpandDataSeq(std::uint64_t reference, std::uint32_t low32);

// Everything MPTCP one segment carried, like Linux's mptcp_options_received: one slot per kind, a
// later option of a kind replacing an earlier one. Malformed options are counted and skipped.
struct ReceivedOptions {
  std::uint32_t present = 0;  // OptionBit
  MpCapable mpc;
  MpJoinSyn mpj_syn;
  MpJoinSynAck mpj_synack;
  MpJoinAck mpj_ack;
  Dss dss;
  AddAddr add_addr;
  RemoveAddr remove_addr;
  MpPrio prio;
  MpFail fail;
  MpFastclose fastclose;
  MpTcprst tcprst;
  std::uint8_t malformed = 0;    // kind-30 options with a length fitting no variant
  std::uint8_t unsupported = 0;  // subtypes this codec does not speak
  bool has(OptionBit b) const { return (present & b) != 0; }
};
void ParseOptions(const TcpRepr& segment, ReceivedOptions* out);

// Storage for the kind-30 options of one outgoing segment: TcpRepr::mptcp holds spans, so the bytes
// live here until the segment has been emitted. Append refuses (kOptionsTooLong) what would not fit
// into the 40 bytes of TCP options next to the segment's other options (padding counted).
class OptionBuffer {
 public:
  wire::WireError Append(const Option& o, TcpRepr* segment);
  void Clear() { used_ = 0; }

 private:
  std::array<std::uint8_t, 40> bytes_{};
  std::size_t used_ = 0;
};

}  // namespace braid::ustack::mptcp
