#include "ustack/wire/ipv4.h"

#include <algorithm>

#include "ustack/wire/bytes.h"
#include "ustack/wire/checksum.h"

namespace braid::ustack::wire {

std::uint16_t Ipv4Packet::total_len() const { return Load16(b_.data() + 2); }
std::uint16_t Ipv4Packet::ident() const { return Load16(b_.data() + 4); }
std::uint16_t Ipv4Packet::frag_offset() const { return Load16(b_.data() + 6) & 0x1fff; }

WireError Ipv4Packet::Check() const {
  if (b_.size() < kMinHeaderLen) return WireError::kTruncated;
  if (version() != 4) return WireError::kBadVersion;
  if (header_len() < kMinHeaderLen) return WireError::kBadHeaderLength;
  if (total_len() < header_len()) return WireError::kBadTotalLength;
  if (b_.size() < total_len()) return WireError::kTruncated;
  return WireError::kOk;
}

bool Ipv4Packet::checksum_ok() const { return Finish(Sum(b_.first(header_len()))) == 0; }

WireError Ipv4Repr::Parse(std::span<const std::uint8_t> packet, ChecksumCheck check, Ipv4Repr* out) {
  Ipv4Packet p(packet);
  if (WireError e = p.Check(); e != WireError::kOk) return e;
  if (check == ChecksumCheck::kVerify && !p.checksum_ok()) return WireError::kBadChecksum;
  out->src = p.src();
  out->dst = p.dst();
  out->protocol = p.protocol();
  out->ttl = p.ttl();
  out->dscp_ecn = p.dscp_ecn();
  out->ident = p.ident();
  out->dont_fragment = p.dont_fragment();
  out->more_fragments = p.more_fragments();
  out->frag_offset = p.frag_offset();
  out->payload = p.payload();
  out->payload_len = static_cast<std::uint16_t>(out->payload.size());
  return WireError::kOk;
}

WireError Ipv4Repr::Emit(std::span<std::uint8_t> b) const {
  if (b.size() < HeaderLen()) return WireError::kBufferTooSmall;
  b[0] = 0x45;
  b[1] = dscp_ecn;
  Store16(b.data() + 2, static_cast<std::uint16_t>(HeaderLen() + payload_len));
  Store16(b.data() + 4, ident);
  Store16(b.data() + 6, dont_fragment ? 0x4000 : 0);
  b[8] = ttl;
  b[9] = protocol;
  Store16(b.data() + 10, 0);
  std::copy_n(src.bytes.data() + 12, 4, b.data() + 12);
  std::copy_n(dst.bytes.data() + 12, 4, b.data() + 16);
  Store16(b.data() + 10, Finish(Sum(b.first(HeaderLen()))));
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
