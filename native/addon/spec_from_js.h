#pragma once
// Copies the validated JS spec (NativeDataplaneSpec in src/dataplane/types.ts) into plain structs.
// The control plane has validated it; this only checks types so a bug fails loudly, not silently.
#include <napi.h>

#include <string>

#include "relay/spec.h"

namespace braid::addon {

bool DataplaneSpecFromJs(Napi::Object js, relay::DataplaneSpec& out, std::string& problem);
// maxConnections, connectTimeoutMs, idleTimeoutMs into the matching fields of `out`.
bool LimitsFromJs(Napi::Object js, relay::DataplaneSpec& out, std::string& problem);
bool ListenerSpecsFromJs(Napi::Value js, std::vector<relay::ListenerSpec>& out, std::string& problem);

}  // namespace braid::addon
