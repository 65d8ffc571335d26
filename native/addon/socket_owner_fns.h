#pragma once
// JS functions findSocketOwner() and processCpus(): braid::kernel::socket_owner for the
// topology code in src/topology/.
#include <napi.h>

namespace braid::addon {

void InitSocketOwnerFunctions(Napi::Env env, Napi::Object exports);

}  // namespace braid::addon
