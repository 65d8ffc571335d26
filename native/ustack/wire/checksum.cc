#include "ustack/wire/checksum.h"

namespace braid::ustack::wire {

std::uint16_t Sum(std::span<const std::uint8_t> data, std::uint32_t initial) {
  // 64-bit accumulator: a frame of any size cannot overflow it, so folding happens once at the end.
  std::uint64_t acc = initial;
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  for (; n >= 2; p += 2, n -= 2) acc += static_cast<std::uint32_t>((p[0] << 8) | p[1]);
  if (n == 1) acc += static_cast<std::uint32_t>(p[0] << 8);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

std::uint16_t PseudoHeaderSum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                              std::uint32_t length) {
  std::uint32_t acc = 0;
  if (src.is_v4()) {
    // RFC 9293 3.1: src, dst, zero, protocol, TCP length (16 bits).
    acc = Sum(std::span(src.bytes).subspan(12, 4));
    acc = Combine(static_cast<std::uint16_t>(acc), Sum(std::span(dst.bytes).subspan(12, 4)));
    acc += protocol;
    acc += length & 0xffff;
  } else {
    // RFC 8200 8.1: src, dst, upper-layer length (32 bits), zero, next header.
    acc = Sum(src.bytes);
    acc = Combine(static_cast<std::uint16_t>(acc), Sum(dst.bytes));
    acc += (length >> 16) + (length & 0xffff);
    acc += protocol;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

}  // namespace braid::ustack::wire
