#pragma once
#include <napi.h>

namespace braid::addon {

class PathManagerWrap {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
};

}  // namespace braid::addon
