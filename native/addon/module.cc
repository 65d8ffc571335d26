// Module entry: registration only.
#include <napi.h>

#include "addon/dataplane_wrap.h"
#include "addon/path_manager_wrap.h"
#include "addon/policy_routing_wrap.h"
#include "addon/socket_owner_fns.h"
#include "addon/userspace_pm_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  braid::addon::DataplaneWrap::Init(env, exports);
  braid::addon::PathManagerWrap::Init(env, exports);
  braid::addon::PolicyRoutingWrap::Init(env, exports);
  braid::addon::UserspacePmWrap::Init(env, exports);
  braid::addon::InitSocketOwnerFunctions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(braid_native, Init)
