// The extension point through which another protocol rides on a connection's segments without tcp/
// knowing it (MPTCP's subflow handshake and DSS: mptcp/subflow_hook.h). tcp/ calls the hook at
// fixed points of the state machine; the hook reads the options of incoming segments and adds its
// own kind-30 options to outgoing ones (TcpRepr::mptcp spans, whose bytes the hook owns).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "ustack/tcp/tcp_types.h"
#include "ustack/wire/tcp_repr.h"

namespace braid::ustack {

class TcpOptionHook {
 public:
  virtual ~TcpOptionHook() = default;

  // The most option bytes (padding included) the hook adds to a segment that is not a SYN. Data
  // segments shrink by it and SACK blocks yield to it, as Linux reserves MPTCP's room first.
  virtual std::uint32_t ReservedOptionSpace() const = 0;
  // The same for a segment without payload (a pure ACK, a FIN): MPTCP needs less there (a DATA_ACK
  // without a mapping), which leaves room for a SACK block, as on Linux.
  virtual std::uint32_t AckOptionSpace() const { return ReservedOptionSpace(); }

  // A segment tcp/ accepted, before tcp/ acts on its ACK, data and FIN: the SYN that created a
  // passive connection (state SYN-RECEIVED), the SYN-ACK (or simultaneous SYN) in SYN-SENT, and
  // every acceptable ACK-bearing segment after that, including one at RCV.NXT refused only because
  // our window is closed (its ACK still counts, RFC 9293 3.10.7.4; its data is dropped). `state` is
  // the state before the segment.
  // Returning false refuses the connection: tcp/ resets it (counter OptionHookResets).
  virtual bool OnSegmentIn(const TcpRepr& seg, TcpState state) = 0;

  // A segment about to go out, complete but for the hook's options; the hook may add entries to
  // seg.mptcp whose bytes stay valid until its next OnSegmentOut. `state` is the current state.
  virtual void OnSegmentOut(TcpRepr& seg, TcpState state) = 0;

  // The most payload a segment starting at `seq` may carry: MPTCP cannot let one segment straddle
  // two DSS mappings (Linux: mptcp_skb_can_collapse), so data segments are cut at a mapping's end.
  virtual std::uint32_t PayloadLimit(std::uint32_t /*seq*/) const { return UINT32_MAX; }

  // The connection reached CLOSED (free what the hook holds per connection, e.g. a token).
  virtual void OnClosed() {}

  // A RST tcp/ is about to send for this connection (an abort, a refused segment or SYN): the hook
  // may add entries to rst.mptcp (MPTCP puts MP_TCPRST, MP_FASTCLOSE, MP_FAIL there: RFC 8684
  // 3.5-3.7), valid until its next call. Called for a SYN the hook refused too, before it is freed.
  virtual void OnResetOut(TcpRepr& /*rst*/) {}
  // A RST that tcp/ accepts (it ends the connection) arrived: the hook may read its options.
  virtual void OnResetIn(const TcpRepr& /*rst*/) {}
};

// Creates the hook for a connection a listener accepts, from its SYN; null for none.
using TcpOptionHookFactory = std::function<std::unique_ptr<TcpOptionHook>(const FourTuple&, const TcpRepr& syn)>;

}  // namespace braid::ustack
