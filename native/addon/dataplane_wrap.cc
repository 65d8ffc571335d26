// Placeholder: registers nothing until the real wrapper lands.
#include "addon/dataplane_wrap.h"

namespace braid::addon {

void DataplaneWrap::Init(Napi::Env, Napi::Object) {}

}  // namespace braid::addon
