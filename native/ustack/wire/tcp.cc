#include "ustack/wire/tcp.h"

#include <cstring>

#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"
#include "ustack/wire/ip_protocol.h"

namespace braid::ustack::wire {

std::uint16_t TcpPacket::src_port() const { return Load16(b_.data()); }
std::uint16_t TcpPacket::dst_port() const { return Load16(b_.data() + 2); }
std::uint32_t TcpPacket::seq() const { return Load32(b_.data() + 4); }
std::uint32_t TcpPacket::ack() const { return Load32(b_.data() + 8); }
std::uint16_t TcpPacket::window() const { return Load16(b_.data() + 14); }
std::uint16_t TcpPacket::checksum() const { return Load16(b_.data() + 16); }
std::uint16_t TcpPacket::urgent() const { return Load16(b_.data() + 18); }

WireError TcpPacket::Check() const {
  if (b_.size() < kTcpMinHeaderLen) return WireError::kTruncated;
  if (header_len() < kTcpMinHeaderLen) return WireError::kBadHeaderLength;
  if (header_len() > b_.size()) return WireError::kTruncated;
  return WireError::kOk;
}

namespace {

WireError ParseOptions(std::span<const std::uint8_t> o, TcpRepr* r) {
  for (std::size_t at = 0; at < o.size();) {
    const std::uint8_t kind = o[at];
    if (kind == kTcpOptEnd) break;
    if (kind == kTcpOptNop) {
      ++at;
      continue;
    }
    if (o.size() - at < 2) return WireError::kBadOption;
    const std::uint8_t len = o[at + 1];
    if (len < 2 || len > o.size() - at) return WireError::kBadOption;
    const std::uint8_t* v = o.data() + at + 2;
    switch (kind) {
      case kTcpOptMss:
        if (len != kTcpOptLenMss) return WireError::kBadOption;
        r->mss = Load16(v);
        break;
      case kTcpOptWindowScale:
        // Kept as sent; RFC 7323 2.3's clamp to 14 is the state machine's business.
        if (len != kTcpOptLenWindowScale) return WireError::kBadOption;
        r->window_scale = v[0];
        break;
      case kTcpOptSackPermitted:
        if (len != kTcpOptLenSackPermitted) return WireError::kBadOption;
        r->sack_permitted = true;
        break;
      case kTcpOptSack: {
        // RFC 2018 3: 8 bytes per block; at most 4 fit in 40 bytes of options.
        const std::size_t n = (len - 2u) / 8;
        if ((len - 2u) % 8 != 0 || n == 0 || n > r->sack.size()) return WireError::kBadOption;
        for (std::size_t i = 0; i < n; ++i) r->sack[i] = TcpSackBlock{Load32(v + 8 * i), Load32(v + 8 * i + 4)};
        r->sack_count = static_cast<std::uint8_t>(n);
        break;
      }
      case kTcpOptTimestamp:
        if (len != kTcpOptLenTimestamp) return WireError::kBadOption;
        r->timestamp = TcpTimestamp{Load32(v), Load32(v + 4)};
        break;
      case kTcpOptMptcp:
        // RFC 8684 3: every MPTCP option carries at least its subtype. More than the Repr holds
        // cannot be passed on faithfully, so such a segment is refused rather than trimmed.
        if (len < kTcpOptLenMptcpMin) return WireError::kBadOption;
        if (r->mptcp_count == TcpRepr::kMaxMptcpOptions) return WireError::kBadOption;
        r->mptcp[r->mptcp_count++] = std::span<const std::uint8_t>(v, len - 2u);
        break;
      default:
        break;  // unknown kind: skipped by its length
    }
    at += len;
  }
  return WireError::kOk;
}

std::size_t OptionsLen(const TcpRepr& r) {
  std::size_t n = 0;
  if (r.mss) n += 4;
  if (r.sack_permitted || r.timestamp) {
    // SACK-permitted shares a word with the timestamp's two leading bytes (as Linux lays it out).
    n += r.timestamp ? 12 : 4;
  }
  if (r.window_scale) n += 4;
  if (r.sack_count > 0) n += 4 + 8u * r.sack_count;
  for (std::size_t i = 0; i < r.mptcp_count; ++i) n += (2 + r.mptcp[i].size() + 3) & ~std::size_t{3};
  return n;
}

}  // namespace

WireError ParseTcp(std::span<const std::uint8_t> segment, const IpAddress& src, const IpAddress& dst,
                   ChecksumCheck check, TcpRepr* out) {
  TcpPacket p(segment);
  if (WireError e = p.Check(); e != WireError::kOk) return e;
  if (check == ChecksumCheck::kVerify && UpperLayerChecksum(src, dst, kIpProtoTcp, segment) != 0) {
    return WireError::kBadChecksum;
  }
  *out = TcpRepr{};
  out->src_port = p.src_port();
  out->dst_port = p.dst_port();
  out->seq = p.seq();
  out->ack = p.ack();
  out->flags = p.flags();
  out->window = p.window();
  out->urgent = p.urgent();
  if (WireError e = ParseOptions(p.options(), out); e != WireError::kOk) return e;
  out->payload = p.payload();
  return WireError::kOk;
}

std::size_t TcpHeaderLen(const TcpRepr& r) { return kTcpMinHeaderLen + OptionsLen(r); }

std::size_t TcpBufferLen(const TcpRepr& r) { return TcpHeaderLen(r) + r.payload.size(); }

WireError EmitTcp(const TcpRepr& r, const IpAddress& src, const IpAddress& dst, std::span<std::uint8_t> s) {
  const std::size_t opt_len = OptionsLen(r);
  if (opt_len > kTcpMaxOptionsLen) return WireError::kOptionsTooLong;
  for (std::size_t i = 0; i < r.mptcp_count; ++i) {
    if (r.mptcp[i].size() + 2 < kTcpOptLenMptcpMin) return WireError::kBadOption;
  }
  if (r.sack_count > r.sack.size()) return WireError::kBadOption;
  const std::size_t hlen = kTcpMinHeaderLen + opt_len;
  const std::size_t total = hlen + r.payload.size();
  if (s.size() < total) return WireError::kBufferTooSmall;
  std::uint8_t* b = s.data();
  Store16(b, r.src_port);
  Store16(b + 2, r.dst_port);
  Store32(b + 4, r.seq);
  Store32(b + 8, r.ack);
  b[12] = static_cast<std::uint8_t>((hlen / 4) << 4);
  b[13] = r.flags;
  Store16(b + 14, r.window);
  Store16(b + 16, 0);
  Store16(b + 18, r.urgent);
  std::uint8_t* o = b + kTcpMinHeaderLen;
  if (r.mss) {
    o[0] = kTcpOptMss;
    o[1] = kTcpOptLenMss;
    Store16(o + 2, *r.mss);
    o += 4;
  }
  if (r.sack_permitted && r.timestamp) {
    o[0] = kTcpOptSackPermitted;
    o[1] = kTcpOptLenSackPermitted;
    o += 2;
  } else if (r.sack_permitted) {
    o[0] = o[1] = kTcpOptNop;
    o[2] = kTcpOptSackPermitted;
    o[3] = kTcpOptLenSackPermitted;
    o += 4;
  } else if (r.timestamp) {
    o[0] = o[1] = kTcpOptNop;
    o += 2;
  }
  if (r.timestamp) {
    o[0] = kTcpOptTimestamp;
    o[1] = kTcpOptLenTimestamp;
    Store32(o + 2, r.timestamp->value);
    Store32(o + 6, r.timestamp->echo);
    o += 10;
  }
  if (r.window_scale) {
    o[0] = kTcpOptNop;
    o[1] = kTcpOptWindowScale;
    o[2] = kTcpOptLenWindowScale;
    o[3] = *r.window_scale;
    o += 4;
  }
  if (r.sack_count > 0) {
    o[0] = o[1] = kTcpOptNop;
    o[2] = kTcpOptSack;
    o[3] = static_cast<std::uint8_t>(2 + 8 * r.sack_count);
    o += 4;
    for (std::size_t i = 0; i < r.sack_count; ++i, o += 8) {
      Store32(o, r.sack[i].left);
      Store32(o + 4, r.sack[i].right);
    }
  }
  for (std::size_t i = 0; i < r.mptcp_count; ++i) {
    const auto& m = r.mptcp[i];
    o[0] = kTcpOptMptcp;
    o[1] = static_cast<std::uint8_t>(2 + m.size());
    std::memmove(o + 2, m.data(), m.size());
    o += 2 + m.size();
    // NOPs keep the next option word-aligned (Linux pads a DSS with checksum the same way).
    while ((o - b) % 4 != 0) *o++ = kTcpOptNop;
  }
  if (!r.payload.empty() && r.payload.data() != b + hlen) std::memmove(b + hlen, r.payload.data(), r.payload.size());
  Store16(b + 16, UpperLayerChecksum(src, dst, kIpProtoTcp, s.first(total)));
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
