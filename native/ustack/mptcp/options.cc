#include "ustack/mptcp/options.h"

#include <algorithm>

#include "ustack/wire/bytes.h"
#include "ustack/wire/tcp.h"

namespace braid::ustack::mptcp {

using wire::Load16;
using wire::Load32;
using wire::Store16;
using wire::Store32;
using wire::WireError;

namespace {

std::uint64_t Load64(const std::uint8_t* p) { return (std::uint64_t{Load32(p)} << 32) | Load32(p + 4); }
void Store64(std::uint8_t* p, std::uint64_t v) {
  Store32(p, static_cast<std::uint32_t>(v >> 32));
  Store32(p + 4, static_cast<std::uint32_t>(v));
}

std::uint8_t SubtypeByte(Subtype s, std::uint8_t nibble) {
  return static_cast<std::uint8_t>((static_cast<std::uint8_t>(s) << 4) | (nibble & 0x0f));
}

// Each parser gets the whole body (b[0] is the subtype byte) and the option length n = size + 2.
WireError ParseMpCapable(std::span<const std::uint8_t> b, Option* out) {
  const std::size_t n = b.size() + 2;
  if (n != kLenMpcSyn && n != kLenMpcSynAck && n != kLenMpcAck && n != kLenMpcAckData && n != kLenMpcAckDataCsum) {
    return WireError::kBadOption;
  }
  MpCapable m;
  // The version is kept as sent: Linux accepts a higher version on the SYN only, which is a rule
  // for the subflow, not the codec (RFC 8684 3.1: the receiver answers with the version it speaks).
  m.version = b[0] & 0x0f;
  const std::uint8_t f = b[1];
  m.checksum_required = f & kMpcFlagChecksum;
  m.extensibility = f & kMpcFlagExtensibility;
  m.no_join_id0 = f & kMpcFlagNoJoinId0;
  m.hmac_sha256 = f & kMpcFlagHmacSha256;
  m.reserved_flags = f & kMpcFlagReserved;
  if (n >= kLenMpcSynAck) m.sender_key = Load64(&b[2]);
  if (n >= kLenMpcAck) m.receiver_key = Load64(&b[10]);
  if (n >= kLenMpcAckData) m.data_len = Load16(&b[18]);
  if (n == kLenMpcAckDataCsum) m.checksum = Load16(&b[20]);
  *out = m;
  return WireError::kOk;
}

WireError ParseMpJoin(std::span<const std::uint8_t> b, Option* out) {
  switch (b.size() + 2) {
    case kLenMpjSyn:
      *out = MpJoinSyn{static_cast<bool>(b[0] & 1), b[1], Load32(&b[2]), Load32(&b[6])};
      return WireError::kOk;
    case kLenMpjSynAck:
      *out = MpJoinSynAck{static_cast<bool>(b[0] & 1), b[1], Load64(&b[2]), Load32(&b[10])};
      return WireError::kOk;
    case kLenMpjAck: {
      MpJoinAck a;
      std::copy_n(&b[2], a.hmac.size(), a.hmac.begin());
      *out = a;
      return WireError::kOk;
    }
    default:
      return WireError::kBadOption;
  }
}

WireError ParseDss(std::span<const std::uint8_t> b, Option* out) {
  if (b.size() + 2 < kLenDssBase) return WireError::kBadOption;
  const std::uint8_t f = b[1];
  Dss d;
  d.ack64 = f & kDssFlagAck64;
  d.dsn64 = f & kDssFlagDsn64;
  const bool has_ack = f & kDssFlagAck, has_map = f & kDssFlagMap;
  std::size_t expected = kLenDssBase;
  if (has_ack) expected += d.ack64 ? kLenDssAck64 : kLenDssAck32;
  if (has_map) expected += d.dsn64 ? kLenDssMap64 : kLenDssMap32;
  // RFC 8684 3.3.0 makes a checksum present without negotiation (or missing with it) a reason to
  // reset the subflow; that needs the negotiated state, so both lengths parse (as Linux).
  const std::size_t n = b.size() + 2;
  if (n != expected && n != expected + kLenDssChecksum) return WireError::kBadOption;
  std::size_t at = 2;
  if (has_ack) {
    d.data_ack = DataAck{d.ack64 ? Load64(&b[at]) : Load32(&b[at])};
    at += d.ack64 ? 8 : 4;
  }
  if (has_map) {
    DssMapping m;
    m.dsn = d.dsn64 ? Load64(&b[at]) : Load32(&b[at]);
    at += d.dsn64 ? 8 : 4;
    m.ssn = Load32(&b[at]);
    m.length = Load16(&b[at + 4]);
    at += 6;
    m.data_fin = f & kDssFlagDataFin;
    if (n == expected + kLenDssChecksum) m.checksum = Load16(&b[at]);
    d.mapping = m;
  }
  *out = d;
  return WireError::kOk;
}

WireError ParseAddAddr(std::span<const std::uint8_t> b, Option* out) {
  AddAddr a;
  a.echo = b[0] & 1;
  // RFC 8684 3.4.1: v1 tells IPv4 from IPv6 by the length; the HMAC is there exactly without echo.
  std::size_t n = b.size() + 2;
  if (!a.echo) {
    if (n < kLenAddAddrHmac) return WireError::kBadOption;
    n -= kLenAddAddrHmac;
  }
  bool v4;
  if (n == kLenAddAddrBase || n == kLenAddAddrBase + kLenAddAddrPort) {
    v4 = true;
  } else if (n == kLenAddAddr6Base || n == kLenAddAddr6Base + kLenAddAddrPort) {
    v4 = false;
  } else {
    return WireError::kBadOption;
  }
  a.address_id = b[1];
  std::size_t at = 2;
  if (v4) {
    a.address = IpAddress::V4(b[2], b[3], b[4], b[5]);
    at += 4;
  } else {
    std::copy_n(&b[2], 16, a.address.bytes.begin());
    at += 16;
  }
  if (n == std::size_t{v4 ? kLenAddAddrBase : kLenAddAddr6Base} + kLenAddAddrPort) {
    a.port = Load16(&b[at]);
    at += 2;
  }
  if (!a.echo) a.hmac = Load64(&b[at]);
  *out = a;
  return WireError::kOk;
}

WireError ParseRemoveAddr(std::span<const std::uint8_t> b, Option* out) {
  const std::size_t n = b.size() + 2;
  if (n < kLenRemoveAddrBase + 1u || n > kLenRemoveAddrBase + kRemoveAddrMaxIds) return WireError::kBadOption;
  RemoveAddr r;
  r.count = static_cast<std::uint8_t>(n - kLenRemoveAddrBase);
  std::copy_n(&b[1], r.count, r.ids.begin());
  *out = r;
  return WireError::kOk;
}

}  // namespace

WireError ParseOption(std::span<const std::uint8_t> body, Option* out) {
  // Anything shorter than the subtype byte plus one more is no MPTCP option of any subtype (the
  // shortest, MP_PRIO, is 3 bytes with kind and length).
  if (body.size() + 2 < kLenMpPrio) return WireError::kTruncated;
  const std::size_t n = body.size() + 2;
  switch (static_cast<Subtype>(body[0] >> 4)) {
    case Subtype::kMpCapable:
      return ParseMpCapable(body, out);
    case Subtype::kMpJoin:
      return ParseMpJoin(body, out);
    case Subtype::kDss:
      return ParseDss(body, out);
    case Subtype::kAddAddr:
      return ParseAddAddr(body, out);
    case Subtype::kRemoveAddr:
      return ParseRemoveAddr(body, out);
    case Subtype::kMpPrio:
      if (n != kLenMpPrio) return WireError::kBadOption;
      *out = MpPrio{static_cast<bool>(body[0] & 1)};
      return WireError::kOk;
    case Subtype::kMpFail:
      if (n != kLenMpFail) return WireError::kBadOption;
      *out = MpFail{Load64(&body[2])};
      return WireError::kOk;
    case Subtype::kMpFastclose:
      if (n != kLenMpFastclose) return WireError::kBadOption;
      *out = MpFastclose{Load64(&body[2])};
      return WireError::kOk;
    case Subtype::kMpTcprst:
      // Linux also requires the RST flag on the segment: a subflow rule, not the codec's.
      if (n != kLenMpTcprst) return WireError::kBadOption;
      *out = MpTcprst{static_cast<bool>(body[0] & 1), static_cast<std::uint8_t>(body[0] & 0x0e), body[1]};
      return WireError::kOk;
    default:
      return WireError::kUnsupported;
  }
}

namespace {

struct LenOf {
  std::size_t operator()(const MpCapable& m) const {
    if (m.checksum && !m.data_len) return 0;
    if (m.data_len && !m.receiver_key) return 0;
    if (m.receiver_key && !m.sender_key) return 0;
    if (m.checksum) return kLenMpcAckDataCsum;
    if (m.data_len) return kLenMpcAckData;
    if (m.receiver_key) return kLenMpcAck;
    if (m.sender_key) return kLenMpcSynAck;
    return kLenMpcSyn;
  }
  std::size_t operator()(const MpJoinSyn&) const { return kLenMpjSyn; }
  std::size_t operator()(const MpJoinSynAck&) const { return kLenMpjSynAck; }
  std::size_t operator()(const MpJoinAck&) const { return kLenMpjAck; }
  std::size_t operator()(const Dss& d) const {
    std::size_t n = kLenDssBase;
    if (d.data_ack) n += d.ack64 ? kLenDssAck64 : kLenDssAck32;
    if (d.mapping) {
      n += d.dsn64 ? kLenDssMap64 : kLenDssMap32;
      if (d.mapping->checksum) n += kLenDssChecksum;
    }
    return n;
  }
  std::size_t operator()(const AddAddr& a) const {
    std::size_t n = a.address.is_v4() ? kLenAddAddrBase : kLenAddAddr6Base;
    if (a.port) n += kLenAddAddrPort;
    if (!a.echo) n += kLenAddAddrHmac;
    return n;
  }
  std::size_t operator()(const RemoveAddr& r) const {
    if (r.count == 0 || r.count > kRemoveAddrMaxIds) return 0;
    return kLenRemoveAddrBase + r.count;
  }
  std::size_t operator()(const MpPrio&) const { return kLenMpPrio; }
  std::size_t operator()(const MpFail&) const { return kLenMpFail; }
  std::size_t operator()(const MpFastclose&) const { return kLenMpFastclose; }
  std::size_t operator()(const MpTcprst&) const { return kLenMpTcprst; }
};

// Writes the body; the span is already checked to hold OptionLen - 2 bytes.
struct Writer {
  std::uint8_t* b;
  void operator()(const MpCapable& m) const {
    b[0] = SubtypeByte(Subtype::kMpCapable, m.version);
    b[1] = static_cast<std::uint8_t>((m.checksum_required ? kMpcFlagChecksum : 0) |
                                     (m.extensibility ? kMpcFlagExtensibility : 0) |
                                     (m.no_join_id0 ? kMpcFlagNoJoinId0 : 0) | (m.reserved_flags & kMpcFlagReserved) |
                                     (m.hmac_sha256 ? kMpcFlagHmacSha256 : 0));
    if (m.sender_key) Store64(b + 2, *m.sender_key);
    if (m.receiver_key) Store64(b + 10, *m.receiver_key);
    if (m.data_len) Store16(b + 18, *m.data_len);
    if (m.checksum) Store16(b + 20, *m.checksum);
  }
  void operator()(const MpJoinSyn& j) const {
    b[0] = SubtypeByte(Subtype::kMpJoin, j.backup ? 1 : 0);
    b[1] = j.address_id;
    Store32(b + 2, j.token);
    Store32(b + 6, j.nonce);
  }
  void operator()(const MpJoinSynAck& j) const {
    b[0] = SubtypeByte(Subtype::kMpJoin, j.backup ? 1 : 0);
    b[1] = j.address_id;
    Store64(b + 2, j.hmac);
    Store32(b + 10, j.nonce);
  }
  void operator()(const MpJoinAck& j) const {
    b[0] = SubtypeByte(Subtype::kMpJoin, 0);
    b[1] = 0;
    std::copy(j.hmac.begin(), j.hmac.end(), b + 2);
  }
  void operator()(const Dss& d) const {
    std::uint8_t f = 0;
    if (d.data_ack) f |= kDssFlagAck | (d.ack64 ? kDssFlagAck64 : 0);
    if (d.mapping) {
      f |= kDssFlagMap | (d.dsn64 ? kDssFlagDsn64 : 0);
      if (d.mapping->data_fin) f |= kDssFlagDataFin;
    }
    b[0] = SubtypeByte(Subtype::kDss, 0);
    b[1] = f;
    std::uint8_t* p = b + 2;
    if (d.data_ack) {
      if (d.ack64) {
        Store64(p, d.data_ack->ack);
        p += 8;
      } else {
        Store32(p, static_cast<std::uint32_t>(d.data_ack->ack));
        p += 4;
      }
    }
    if (d.mapping) {
      if (d.dsn64) {
        Store64(p, d.mapping->dsn);
        p += 8;
      } else {
        Store32(p, static_cast<std::uint32_t>(d.mapping->dsn));
        p += 4;
      }
      Store32(p, d.mapping->ssn);
      Store16(p + 4, d.mapping->length);
      p += 6;
      if (d.mapping->checksum) Store16(p, *d.mapping->checksum);
    }
  }
  void operator()(const AddAddr& a) const {
    b[0] = SubtypeByte(Subtype::kAddAddr, a.echo ? 1 : 0);
    b[1] = a.address_id;
    std::uint8_t* p = b + 2;
    const std::size_t from = a.address.is_v4() ? 12 : 0;
    p = std::copy(a.address.bytes.begin() + from, a.address.bytes.end(), p);
    if (a.port) {
      Store16(p, *a.port);
      p += 2;
    }
    if (!a.echo) Store64(p, a.hmac);
  }
  void operator()(const RemoveAddr& r) const {
    b[0] = SubtypeByte(Subtype::kRemoveAddr, 0);
    std::copy_n(r.ids.begin(), r.count, b + 1);
  }
  void operator()(const MpPrio& p) const { b[0] = SubtypeByte(Subtype::kMpPrio, p.backup ? 1 : 0); }
  void operator()(const MpFail& f) const {
    b[0] = SubtypeByte(Subtype::kMpFail, 0);
    b[1] = 0;
    Store64(b + 2, f.dsn);
  }
  void operator()(const MpFastclose& f) const {
    b[0] = SubtypeByte(Subtype::kMpFastclose, 0);
    b[1] = 0;
    Store64(b + 2, f.receiver_key);
  }
  void operator()(const MpTcprst& r) const {
    b[0] = SubtypeByte(Subtype::kMpTcprst, static_cast<std::uint8_t>((r.other_flags & 0x0e) | (r.transient ? 1 : 0)));
    b[1] = r.reason;
  }
};

}  // namespace

std::size_t OptionLen(const Option& o) { return std::visit(LenOf{}, o); }

WireError EmitOption(const Option& o, std::span<std::uint8_t> body) {
  const std::size_t n = OptionLen(o);
  if (n == 0) return WireError::kBadOption;
  if (body.size() < n - 2) return WireError::kBufferTooSmall;
  std::visit(Writer{body.data()}, o);
  return WireError::kOk;
}

std::uint64_t ExpandDataSeq(std::uint64_t reference, std::uint32_t low32) {
  const std::uint32_t ref32 = static_cast<std::uint32_t>(reference);
  const std::uint64_t v = (reference & ~std::uint64_t{0xffffffff}) | low32;
  // Serial-number comparison of the low halves (RFC 1982), as Linux's before()/after().
  if (low32 < ref32 && static_cast<std::int32_t>(ref32 - low32) < 0) return v + (std::uint64_t{1} << 32);
  if (low32 > ref32 && static_cast<std::int32_t>(low32 - ref32) < 0) return v - (std::uint64_t{1} << 32);
  return v;
}

void ParseOptions(const TcpRepr& segment, ReceivedOptions* out) {
  *out = ReceivedOptions{};
  for (std::size_t i = 0; i < segment.mptcp_count; ++i) {
    Option o;
    const WireError e = ParseOption(segment.mptcp[i], &o);
    if (e == WireError::kUnsupported) {
      ++out->unsupported;
      continue;
    }
    if (e != WireError::kOk) {
      ++out->malformed;
      continue;
    }
    if (const auto* m = std::get_if<MpCapable>(&o)) {
      out->mpc = *m;
      out->present |= m->receiver_key ? kOptMpcAck : m->sender_key ? kOptMpcSynAck : kOptMpcSyn;
    } else if (const auto* j = std::get_if<MpJoinSyn>(&o)) {
      out->mpj_syn = *j;
      out->present |= kOptMpjSyn;
    } else if (const auto* j = std::get_if<MpJoinSynAck>(&o)) {
      out->mpj_synack = *j;
      out->present |= kOptMpjSynAck;
    } else if (const auto* j = std::get_if<MpJoinAck>(&o)) {
      out->mpj_ack = *j;
      out->present |= kOptMpjAck;
    } else if (const auto* d = std::get_if<Dss>(&o)) {
      out->dss = *d;
      out->present |= kOptDss;
    } else if (const auto* a = std::get_if<AddAddr>(&o)) {
      out->add_addr = *a;
      out->present |= kOptAddAddr;
    } else if (const auto* r = std::get_if<RemoveAddr>(&o)) {
      out->remove_addr = *r;
      out->present |= kOptRemoveAddr;
    } else if (const auto* p = std::get_if<MpPrio>(&o)) {
      out->prio = *p;
      out->present |= kOptMpPrio;
    } else if (const auto* f = std::get_if<MpFail>(&o)) {
      out->fail = *f;
      out->present |= kOptMpFail;
    } else if (const auto* c = std::get_if<MpFastclose>(&o)) {
      out->fastclose = *c;
      out->present |= kOptMpFastclose;
    } else if (const auto* t = std::get_if<MpTcprst>(&o)) {
      out->tcprst = *t;
      out->present |= kOptMpTcprst;
    }
  }
}

WireError OptionBuffer::Append(const Option& o, TcpRepr* segment) {
  const std::size_t n = OptionLen(o);
  if (n == 0) return WireError::kBadOption;
  if (segment->mptcp_count == TcpRepr::kMaxMptcpOptions) return WireError::kOptionsTooLong;
  // wire/tcp.cc pads every MPTCP option to a 4-byte boundary with NOPs.
  const std::size_t options_now = wire::TcpHeaderLen(*segment) - wire::kTcpMinHeaderLen;
  if (options_now + ((n + 3) & ~std::size_t{3}) > wire::kTcpMaxOptionsLen) return WireError::kOptionsTooLong;
  if (used_ + n - 2 > bytes_.size()) return WireError::kOptionsTooLong;
  const std::span<std::uint8_t> body(bytes_.data() + used_, n - 2);
  if (WireError e = EmitOption(o, body); e != WireError::kOk) return e;
  used_ += n - 2;
  segment->mptcp[segment->mptcp_count++] = body;
  return WireError::kOk;
}

}  // namespace braid::ustack::mptcp
