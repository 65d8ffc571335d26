// Placeholder: registers nothing until the real wrapper lands.
#include "addon/path_manager_wrap.h"

namespace braid::addon {

void PathManagerWrap::Init(Napi::Env, Napi::Object) {}

}  // namespace braid::addon
