// Why a parser refused its input (or an emitter its Repr). One code per rule, so a drop counter or a
// fuzz finding names the exact check; WireErrorName gives the stable spelling for logs and tests.
#pragma once

#include <cstdint>

namespace braid::ustack::wire {

enum class WireError : std::uint8_t {
  kOk = 0,
  kTruncated,          // the buffer is shorter than the header or a length field says
  kBadVersion,         // IP version nibble does not match the parser
  kBadHeaderLength,    // IPv4 IHL < 5, TCP data offset < 5 or past the segment
  kBadTotalLength,     // IPv4 total length shorter than its header
  kBadChecksum,        // the Internet checksum does not verify
  kUnsupported,        // well-formed but not a variant this stack handles (e.g. ARP over non-Ethernet)
  kBadOption,          // a TCP or ICMPv6 option whose length is 0/1, runs past the header, or wrong for its kind
  kBadCode,            // ICMP code other than the one its type requires (RFC 4861 4.3/4.4: code 0)
  kBufferTooSmall,     // Emit: the output span is shorter than BufferLen
  kOptionsTooLong,     // Emit: TCP options exceed 40 bytes
};

const char* WireErrorName(WireError e);

// Whether Parse verifies checksums. kSkip only where the device says it verified them already.
enum class ChecksumCheck : std::uint8_t { kVerify, kSkip };

}  // namespace braid::ustack::wire
