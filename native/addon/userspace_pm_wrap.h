#pragma once
// JS class `UserspacePathManager` (NativeUserspacePathManager in src/dataplane/types.ts): copies
// the paths TS validated into braid::kernel::PmPath, and converts snapshots back.
#include <napi.h>

#include <memory>

#include "kernel/userspace_pm.h"

namespace braid::addon {

class UserspacePmWrap : public Napi::ObjectWrap<UserspacePmWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // new UserspacePathManager(paths): subscribes in the netns of the JS thread, starts its thread.
  explicit UserspacePmWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value SetPreference(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::unique_ptr<kernel::UserspacePm> pm_;
};

}  // namespace braid::addon
