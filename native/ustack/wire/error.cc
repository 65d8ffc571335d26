#include "ustack/wire/error.h"

namespace braid::ustack::wire {

const char* WireErrorName(WireError e) {
  switch (e) {
    case WireError::kOk: return "ok";
    case WireError::kTruncated: return "truncated";
    case WireError::kBadVersion: return "bad-version";
    case WireError::kBadHeaderLength: return "bad-header-length";
    case WireError::kBadTotalLength: return "bad-total-length";
    case WireError::kBadChecksum: return "bad-checksum";
    case WireError::kUnsupported: return "unsupported";
    case WireError::kBadOption: return "bad-option";
    case WireError::kBadCode: return "bad-code";
    case WireError::kBufferTooSmall: return "buffer-too-small";
    case WireError::kOptionsTooLong: return "options-too-long";
  }
  return "unknown";
}

}  // namespace braid::ustack::wire
