#pragma once
// JS class `PolicyRouting` (NativePolicyRouting in src/redirect/routing.ts): argument checks
// and conversion only; the rtnetlink work is braid::kernel::RtNetlink and policy_routing.h.
#include <napi.h>

#include <memory>

#include "kernel/rt_netlink.h"

namespace braid::addon {

class PolicyRoutingWrap : public Napi::ObjectWrap<PolicyRoutingWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new PolicyRouting(): opens the routing socket in the netns of the JS thread.
  explicit PolicyRoutingWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Install(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // Runs fn against the open socket; RtError becomes a BRAID_NETLINK JS error.
  template <typename Fn>
  Napi::Value Call(const Napi::CallbackInfo& info, Fn&& fn);

  std::unique_ptr<kernel::RtNetlink> nl_;
};

}  // namespace braid::addon
