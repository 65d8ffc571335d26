// MP_CAPABLE negotiation on one subflow (RFC 8684 3.1), riding on a TcpConnection through its
// TcpOptionHook (tcp/option_hook.h): tcp/ runs the TCP handshake, this hook adds and reads the
// kind-30 options. Client: SYN with MP_CAPABLE (no key, v1), SYN/ACK with the server's key, then
// the third ACK (and the first data segment) carry both keys. Server: answers an MP_CAPABLE SYN with
// its key and becomes MPTCP on the first ACK that carries both keys. Either side falls back to plain
// TCP, silently, when the peer does not echo MP_CAPABLE (RFC 8684 3.1 and 3.7), as Linux does.
//
// The data level (DSS mappings, DATA_ACK) is the connection level's: it derives from SubflowHook
// and overrides the On*Data* hooks, which run once MPTCP is negotiated.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "ustack/mptcp/crypto.h"
#include "ustack/mptcp/integrity.h"
#include "ustack/mptcp/options.h"
#include "ustack/tcp/option_hook.h"

namespace braid::ustack::mptcp {

#define BRAID_MPTCP_HANDSHAKE_COUNTERS(X)                                                              \
  X(MpCapableSynTx, "SYN sent with MP_CAPABLE (Linux MPCapableSYNTX)")                                  \
  X(MpCapableSynRx, "SYN received with a usable MP_CAPABLE (MPCapableSYNRX)")                          \
  X(MpCapableSynAckTx, "SYN/ACK sent with MP_CAPABLE and our key")                                     \
  X(MpCapableSynAckRx, "SYN/ACK received with MP_CAPABLE and the server's key (MPCapableSYNACKRX)")     \
  X(MpCapableAckRx, "first ACK with both keys received: the server's subflow is MPTCP (MPCapableACKRX)") \
  X(MpCapableIgnored, "MP_CAPABLE not version 1, without H, or with B or D-G set: ignored (as Linux)")  \
  X(FallbackSynAck, "our MP_CAPABLE SYN was answered without MP_CAPABLE: plain TCP "                  \
                    "(MPCapableFallbackSYNACK)")                                                        \
  X(FallbackAck, "the first ACK after our MP_CAPABLE SYN/ACK had no MP_CAPABLE: plain TCP "            \
                 "(MPCapableFallbackACK)")                                                              \
  X(FallbackSynRetries, "SYN retransmitted without MP_CAPABLE after repeated losses: plain TCP "       \
                        "(Linux net.mptcp.syn_retrans_before_tcp_fallback)")                            \
  X(FallbackKeyMismatch, "third ACK echoed a receiver key that is not ours: plain TCP")                \
  X(NoToken, "no unused token in TokenTable::kMaxAttempts draws: plain TCP (TokenFallbackInit)")

enum class HandshakeCounter : std::uint8_t {
#define BRAID_MPTCP_HANDSHAKE_ENUM(name, help) k##name,
  BRAID_MPTCP_HANDSHAKE_COUNTERS(BRAID_MPTCP_HANDSHAKE_ENUM)
#undef BRAID_MPTCP_HANDSHAKE_ENUM
      kCount
};
const char* HandshakeCounterName(HandshakeCounter c);
const char* HandshakeCounterHelp(HandshakeCounter c);

struct HandshakeCounters {
  std::array<std::uint64_t, static_cast<std::size_t>(HandshakeCounter::kCount)> values{};
  void Inc(HandshakeCounter c) { ++values[static_cast<std::size_t>(c)]; }
  std::uint64_t Get(HandshakeCounter c) const { return values[static_cast<std::size_t>(c)]; }
};

struct SubflowConfig {
  bool checksum = false;        // request DSS checksums (our A bit; Linux net.mptcp.checksum_enabled)
  bool allow_join_id0 = true;   // false sets the C bit: no MP_JOIN to our initial address
  int syn_retries_with_mpc = 2;  // retransmitted SYNs that still carry MP_CAPABLE (Linux's default 2)
};

// What every subflow hook of one lcore shares.
struct SubflowContext {
  SubflowContext(SubflowConfig c, TokenTable& t) : config(c), tokens(t) {}
  SubflowConfig config;
  TokenTable& tokens;
  HandshakeCounters counters;
  IntegrityCounters integrity;  // checksums, MP_FAIL, MP_TCPRST, MP_FASTCLOSE (mptcp/integrity.h)
};

class SubflowHook : public TcpOptionHook {
 public:
  enum class Role : std::uint8_t { kClient, kServer };
  enum class State : std::uint8_t {
    kInit,         // nothing sent or seen yet
    kMpcOffered,   // client: MP_CAPABLE SYN sent; server: MP_CAPABLE SYN seen, our key drawn
    kMpcPending,   // client: both keys known, the third ACK not yet confirmed by the server
    kEstablished,  // MPTCP, both keys exchanged and confirmed ("fully established" in Linux)
    kFallback,     // plain TCP: the hook adds and reads nothing more
  };
  static const char* StateName(State s);

  // `owner` is what the TokenTable stores with our token (the connection level's handle).
  SubflowHook(SubflowContext& ctx, Role role, std::uint64_t owner);
  ~SubflowHook() override;

  // TcpOptionHook
  std::uint32_t ReservedOptionSpace() const override;
  bool OnSegmentIn(const TcpRepr& seg, TcpState state) override;
  void OnSegmentOut(TcpRepr& seg, TcpState state) override;
  void OnClosed() override;

  Role role() const { return role_; }
  State state() const { return state_; }
  bool is_mptcp() const { return state_ == State::kMpcPending || state_ == State::kEstablished; }
  bool fallback() const { return state_ == State::kFallback; }
  const std::optional<KeyInfo>& local_key() const { return local_; }
  const std::optional<KeyInfo>& remote_key() const { return remote_; }
  bool checksum() const { return checksum_; }  // DSS checksums in use (either side's A bit)
  bool remote_no_join_id0() const { return remote_no_join_id0_; }

 protected:
  // The data level, once MPTCP is negotiated (kMpcPending or kEstablished). Defaults do nothing.
  // Option bytes the data level adds to a non-SYN segment at most (e.g. 28 for a full DSS).
  virtual std::uint32_t DataOptionSpace() const { return 0; }
  // Add DSS/ADD_ADDR/... to an outgoing segment. Not called for the segment that carries the
  // client's MP_CAPABLE ACK (its data is mapped implicitly: DSN = IDSN + 1, SSN 1).
  virtual void OnDataSegmentOut(TcpRepr& /*seg*/, OptionBuffer& /*out*/) {}
  // An incoming segment's MPTCP options; false resets the subflow.
  virtual bool OnDataSegmentIn(const TcpRepr& /*seg*/, const ReceivedOptions& /*opts*/) { return true; }
  virtual void OnMptcpEstablished() {}
  virtual void OnFallback() {}
  // The implicit mapping of the client's MP_CAPABLE ACK with data (DSN IDSN + 1, SSN 1): its
  // data-level length and checksum. By default the segment's payload; the data level puts its
  // whole first mapping there, as Linux does, so that the checksum covers what the DSS of the next
  // segments maps.
  virtual void ImplicitMapping(const TcpRepr& seg, MpCapable& m);

  SubflowContext& ctx() { return ctx_; }
  // Fallback after the handshake (RFC 8684 3.7: infinite mapping, a checksum failure on the first
  // mapping, data without DSS): from now on the hook adds and reads nothing. Counted by the caller.
  void FallBackEstablished();

 private:
  bool UsableMpc(const MpCapable& m, bool on_syn);
  void Fallback(HandshakeCounter why);
  void Established();
  bool ClientIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts);
  bool ServerIn(const TcpRepr& seg, TcpState state, const ReceivedOptions& opts);
  void ClientOut(TcpRepr& seg);
  void ServerOut(TcpRepr& seg);
  bool DrawKey();

  SubflowContext& ctx_;
  Role role_;
  std::uint64_t owner_;
  State state_ = State::kInit;
  std::optional<KeyInfo> local_;
  std::optional<KeyInfo> remote_;
  bool checksum_ = false;
  bool remote_no_join_id0_ = false;
  bool token_held_ = false;
  std::uint32_t iss_ = 0;  // our SYN's sequence number
  std::uint32_t irs_ = 0;  // the peer's
  int syns_sent_ = 0;
  OptionBuffer out_;
};

}  // namespace braid::ustack::mptcp
