#pragma once
// Native failures cross into JS as an Error with a stable `code`, the `errno`, and the
// failing `syscall` (and `address` where one applies). TS maps the code; never the text.
#include <napi.h>
#include <string>

namespace braid::addon {

inline Napi::Error MakeNativeError(Napi::Env env, const char* code, const std::string& message, int err = 0,
                                   const char* syscall = nullptr, const std::string& address = {}) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (err != 0) e.Set("errno", Napi::Number::New(env, err));
  if (syscall != nullptr) e.Set("syscall", Napi::String::New(env, syscall));
  if (!address.empty()) e.Set("address", Napi::String::New(env, address));
  return e;
}

}  // namespace braid::addon
