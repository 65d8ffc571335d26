#pragma once
#include <napi.h>

namespace braid::addon {

class DataplaneWrap {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
};

}  // namespace braid::addon
