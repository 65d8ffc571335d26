// A connection's shared state as MP_CAPABLE leaves it (both keys known, the Msk made, the first
// subflow in it), for tests that drive a subflow hook with crafted segments.
#pragma once

#include <cstdint>
#include <memory>

#include "ustack/mptcp/dss_hook.h"

namespace braid::ustack::mptcp::test {

inline std::shared_ptr<MptcpConnState> NegotiatedConnection(std::uint64_t local_key, std::uint64_t remote_key,
                                                            bool checksums = false) {
  auto c = std::make_shared<MptcpConnState>();
  c->local_key = DeriveKey(local_key);
  c->remote_key = DeriveKey(remote_key);
  c->msk_config.checksums = checksums;
  MskConfig cfg;
  cfg.checksums = checksums;
  c->msk = std::make_unique<Msk>(cfg, c->local_key->idsn, c->remote_key->idsn);
  c->msk->AddSubflow(DssHook::kInitialSubflow, SubflowParams{});
  return c;
}

}  // namespace braid::ustack::mptcp::test
