// N-API glue for the kernel MPTCP path manager: checks arguments, converts between JS
// objects and braid::kernel structs, and turns PmError into a 'BRAID_NETLINK' error
// carrying errno and the failing command as `syscall`.
#include "addon/path_manager_wrap.h"

#include <errno.h>

#include <cmath>
#include <string>
#include <utility>

#include "addon/errors.h"

namespace braid::addon {

namespace {

using kernel::PmEndpoint;
using kernel::PmError;
using kernel::PmLimits;

struct FlagName {
  uint32_t bit;
  const char* name;
};
// The names of EndpointFlag in src/dataplane/types.ts. The kernel's `implicit` flag is not
// exposed: such endpoints are the kernel's own bookkeeping.
constexpr FlagName kFlagNames[] = {
    {kernel::kPmFlagSignal, "signal"},
    {kernel::kPmFlagSubflow, "subflow"},
    {kernel::kPmFlagBackup, "backup"},
    {kernel::kPmFlagFullmesh, "fullmesh"},
};

void ThrowArg(Napi::Env env, bool range, const std::string& message) {
  Napi::Error e = range ? Napi::Error(Napi::RangeError::New(env, message)) : Napi::Error(Napi::TypeError::New(env, message));
  e.Set("code", Napi::String::New(env, range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE"));
  e.ThrowAsJavaScriptException();
}

// An integer in [lo, hi] or a thrown TypeError/RangeError naming `what`.
bool ReadInt(Napi::Env env, const Napi::Value& v, const char* what, double lo, double hi, int64_t* out) {
  if (!v.IsNumber()) {
    ThrowArg(env, false, std::string(what) + " must be a number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < lo || d > hi) {
    ThrowArg(env, true, std::string(what) + " must be an integer in " + std::to_string(static_cast<int64_t>(lo)) +
                            ".." + std::to_string(static_cast<int64_t>(hi)));
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool ReadFlags(Napi::Env env, const Napi::Value& v, const char* what, uint32_t* out) {
  if (!v.IsArray()) {
    ThrowArg(env, false, std::string(what) + " must be an array of endpoint flags");
    return false;
  }
  Napi::Array arr = v.As<Napi::Array>();
  uint32_t flags = 0;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    std::string name = item.IsString() ? item.As<Napi::String>().Utf8Value() : std::string();
    bool known = false;
    for (const FlagName& f : kFlagNames) {
      if (name == f.name) {
        flags |= f.bit;
        known = true;
      }
    }
    if (!known) {
      ThrowArg(env, false, std::string(what) + "[" + std::to_string(i) + "] must be one of signal, subflow, backup, fullmesh");
      return false;
    }
  }
  *out = flags;
  return true;
}

Napi::Array FlagsToJs(Napi::Env env, uint32_t flags) {
  Napi::Array arr = Napi::Array::New(env);
  uint32_t n = 0;
  for (const FlagName& f : kFlagNames) {
    if (flags & f.bit) arr.Set(n++, Napi::String::New(env, f.name));
  }
  return arr;
}

void ThrowPm(Napi::Env env, const PmError& e) {
  MakeNativeError(env, "BRAID_NETLINK", e.what(), e.err(), e.op()).ThrowAsJavaScriptException();
}

}  // namespace

void PathManagerWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "PathManager",
                                   {
                                       InstanceMethod<&PathManagerWrap::ListEndpoints>("listEndpoints"),
                                       InstanceMethod<&PathManagerWrap::AddEndpoint>("addEndpoint"),
                                       InstanceMethod<&PathManagerWrap::DeleteEndpoint>("deleteEndpoint"),
                                       InstanceMethod<&PathManagerWrap::SetEndpointFlags>("setEndpointFlags"),
                                       InstanceMethod<&PathManagerWrap::GetLimits>("getLimits"),
                                       InstanceMethod<&PathManagerWrap::SetLimits>("setLimits"),
                                       InstanceMethod<&PathManagerWrap::Close>("close"),
                                   });
  exports.Set("PathManager", cls);
}

PathManagerWrap::PathManagerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PathManagerWrap>(info) {
  try {
    pm_ = std::make_unique<kernel::PmNetlink>();
  } catch (const PmError& e) {
    ThrowPm(info.Env(), e);
  }
}

template <typename Fn>
Napi::Value PathManagerWrap::Call(const Napi::CallbackInfo& info, Fn&& fn) {
  Napi::Env env = info.Env();
  try {
    if (!pm_) throw PmError(EBADF, "PathManager", "path manager is closed");
    return fn(*pm_);
  } catch (const PmError& e) {
    ThrowPm(env, e);
    return env.Undefined();
  }
}

Napi::Value PathManagerWrap::ListEndpoints(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    std::vector<PmEndpoint> eps = pm.ListEndpoints();
    Napi::Array out = Napi::Array::New(env, eps.size());
    for (size_t i = 0; i < eps.size(); i++) {
      const PmEndpoint& ep = eps[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", Napi::Number::New(env, ep.id));
      o.Set("address", Napi::String::New(env, kernel::PmFormatAddress(ep)));
      o.Set("port", Napi::Number::New(env, ep.port));
      o.Set("flags", FlagsToJs(env, ep.flags));
      o.Set("ifindex", Napi::Number::New(env, ep.ifindex));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Value PathManagerWrap::AddEndpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowArg(env, false, "endpoint must be an object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  PmEndpoint ep;
  int64_t id = 0, port = 0, ifindex = 0;
  if (!ReadInt(env, o.Get("id"), "endpoint.id", 0, 255, &id)) return env.Undefined();
  Napi::Value address = o.Get("address");
  if (!address.IsString() || !kernel::PmParseAddress(address.As<Napi::String>().Utf8Value(), &ep)) {
    ThrowArg(env, false, "endpoint.address must be a numeric IPv4 or IPv6 address");
    return env.Undefined();
  }
  if (!ReadInt(env, o.Get("port"), "endpoint.port", 0, 65535, &port)) return env.Undefined();
  if (!ReadFlags(env, o.Get("flags"), "endpoint.flags", &ep.flags)) return env.Undefined();
  if (!ReadInt(env, o.Get("ifindex"), "endpoint.ifindex", 0, 2147483647, &ifindex)) return env.Undefined();
  ep.id = static_cast<uint8_t>(id);
  ep.port = static_cast<uint16_t>(port);
  ep.ifindex = static_cast<int32_t>(ifindex);
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    pm.AddEndpoint(ep);
    return env.Undefined();
  });
}

Napi::Value PathManagerWrap::DeleteEndpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id = 0;
  // id 0 means "the address of the initial subflow" to the kernel, never an endpoint of ours.
  if (!ReadInt(env, info[0], "id", 1, 255, &id)) return env.Undefined();
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    pm.DeleteEndpoint(static_cast<uint8_t>(id));
    return env.Undefined();
  });
}

Napi::Value PathManagerWrap::SetEndpointFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id = 0;
  uint32_t flags = 0;
  if (!ReadInt(env, info[0], "id", 1, 255, &id)) return env.Undefined();
  if (!ReadFlags(env, info[1], "flags", &flags)) return env.Undefined();
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    pm.SetFlags(static_cast<uint8_t>(id), flags);
    return env.Undefined();
  });
}

Napi::Value PathManagerWrap::GetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    PmLimits limits = pm.GetLimits();
    Napi::Object o = Napi::Object::New(env);
    o.Set("subflows", Napi::Number::New(env, limits.subflows));
    o.Set("addAddrAccepted", Napi::Number::New(env, limits.add_addr_accepted));
    return o;
  });
}

Napi::Value PathManagerWrap::SetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowArg(env, false, "limits must be an object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  int64_t subflows = 0, accepted = 0;
  if (!ReadInt(env, o.Get("subflows"), "limits.subflows", 0, 4294967295.0, &subflows)) return env.Undefined();
  if (!ReadInt(env, o.Get("addAddrAccepted"), "limits.addAddrAccepted", 0, 4294967295.0, &accepted)) {
    return env.Undefined();
  }
  return Call(info, [&](kernel::PmNetlink& pm) -> Napi::Value {
    pm.SetLimits({.subflows = static_cast<uint32_t>(subflows), .add_addr_accepted = static_cast<uint32_t>(accepted)});
    return env.Undefined();
  });
}

Napi::Value PathManagerWrap::Close(const Napi::CallbackInfo& info) {
  pm_.reset();  // idempotent: later calls report EBADF
  return info.Env().Undefined();
}

}  // namespace braid::addon
