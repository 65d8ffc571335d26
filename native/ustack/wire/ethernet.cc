#include "ustack/wire/ethernet.h"

#include <algorithm>

namespace braid::ustack::wire {

WireError EthernetRepr::Parse(std::span<const std::uint8_t> frame, EthernetRepr* out) {
  EthernetFrame f(frame);
  if (WireError e = f.Check(); e != WireError::kOk) return e;
  out->dst = f.dst();
  out->src = f.src();
  out->ethertype = f.ethertype();
  out->payload = f.payload();
  return WireError::kOk;
}

WireError EthernetRepr::Emit(std::span<std::uint8_t> frame) const {
  if (frame.size() < HeaderLen()) return WireError::kBufferTooSmall;
  std::copy(dst.begin(), dst.end(), frame.data());
  std::copy(src.begin(), src.end(), frame.data() + 6);
  Store16(frame.data() + 12, ethertype);
  return WireError::kOk;
}

}  // namespace braid::ustack::wire
