#pragma once
// JS class `PathManager` (NativePathManager in src/dataplane/types.ts): argument checks and
// conversion only; the netlink work is braid::kernel::PmNetlink.
#include <napi.h>

#include <memory>

#include "kernel/pm_netlink.h"

namespace braid::addon {

class PathManagerWrap : public Napi::ObjectWrap<PathManagerWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new PathManager(): opens the socket in the netns of the JS thread.
  explicit PathManagerWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value ListEndpoints(const Napi::CallbackInfo& info);
  Napi::Value AddEndpoint(const Napi::CallbackInfo& info);
  Napi::Value DeleteEndpoint(const Napi::CallbackInfo& info);
  Napi::Value SetEndpointFlags(const Napi::CallbackInfo& info);
  Napi::Value GetLimits(const Napi::CallbackInfo& info);
  Napi::Value SetLimits(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // Runs fn against the open manager; PmError becomes a BRAID_NETLINK JS error.
  template <typename Fn>
  Napi::Value Call(const Napi::CallbackInfo& info, Fn&& fn);

  std::unique_ptr<kernel::PmNetlink> pm_;
};

}  // namespace braid::addon
