// N-API glue for the TPROXY policy routing: checks { mark, table } arguments, converts the
// kernel's rules and routes to plain objects, and turns RtError into a 'BRAID_NETLINK' error
// carrying errno and the failing rtnetlink message type as `syscall`.
#include "addon/policy_routing_wrap.h"

#include <errno.h>
#include <sys/socket.h>

#include <cmath>
#include <string>

#include "addon/errors.h"
#include "kernel/policy_routing.h"

namespace braid::addon {

namespace {

using kernel::RtError;

struct Key {
  uint32_t mark = 0;
  uint32_t table = 0;
  uint32_t priority = 0;  // install only; 0 = the kernel chooses
};

void ThrowArg(Napi::Env env, bool range, const std::string& message) {
  Napi::Error e = range ? Napi::Error(Napi::RangeError::New(env, message)) : Napi::Error(Napi::TypeError::New(env, message));
  e.Set("code", Napi::String::New(env, range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE"));
  e.ThrowAsJavaScriptException();
}

// A u32 in [lo, 0xffffffff] or a thrown TypeError/RangeError naming `what`.
bool ReadU32(Napi::Env env, const Napi::Value& v, const char* what, uint32_t lo, uint32_t* out) {
  if (!v.IsNumber()) {
    ThrowArg(env, false, std::string(what) + " must be a number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < lo || d > 4294967295.0) {
    ThrowArg(env, true, std::string(what) + " must be an integer in " + std::to_string(lo) + "..4294967295");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// { mark, table } (and { priority } when with_priority). Mark 0 would catch every unmarked
// packet, and remove() deletes every route of the table, so the system tables are refused.
bool ReadKey(const Napi::CallbackInfo& info, bool with_priority, Key* key) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowArg(env, false, "options must be an object { mark, table }");
    return false;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  if (!ReadU32(env, o.Get("mark"), "mark", 1, &key->mark)) return false;
  if (!ReadU32(env, o.Get("table"), "table", 1, &key->table)) return false;
  if (kernel::PolicyRoutingTableReserved(key->table)) {
    ThrowArg(env, true, "table must not be 253 (default), 254 (main) or 255 (local)");
    return false;
  }
  if (with_priority) {
    Napi::Value p = o.Get("priority");
    if (!p.IsUndefined() && !ReadU32(env, p, "priority", 1, &key->priority)) return false;
  }
  return true;
}

const char* RouteTypeName(uint8_t type) {
  // RTN_* in linux/rtnetlink.h, spelled as `ip route` prints them.
  static constexpr const char* kNames[] = {"unspec",    "unicast",     "local",      "broadcast", "anycast", "multicast",
                                           "blackhole", "unreachable", "prohibit",   "throw",     "nat"};
  return type < sizeof(kNames) / sizeof(kNames[0]) ? kNames[type] : "unknown";
}

int FamilyNumber(int family) { return family == AF_INET6 ? 6 : 4; }

void ThrowRt(Napi::Env env, const RtError& e) {
  MakeNativeError(env, "BRAID_NETLINK", e.what(), e.err(), e.op()).ThrowAsJavaScriptException();
}

}  // namespace

void PolicyRoutingWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "PolicyRouting",
                                   {
                                       InstanceMethod<&PolicyRoutingWrap::Install>("install"),
                                       InstanceMethod<&PolicyRoutingWrap::Remove>("remove"),
                                       InstanceMethod<&PolicyRoutingWrap::Status>("status"),
                                       InstanceMethod<&PolicyRoutingWrap::Close>("close"),
                                   });
  exports.Set("PolicyRouting", cls);
}

PolicyRoutingWrap::PolicyRoutingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PolicyRoutingWrap>(info) {
  try {
    nl_ = std::make_unique<kernel::RtNetlink>();
  } catch (const RtError& e) {
    ThrowRt(info.Env(), e);
  }
}

template <typename Fn>
Napi::Value PolicyRoutingWrap::Call(const Napi::CallbackInfo& info, Fn&& fn) {
  Napi::Env env = info.Env();
  try {
    if (!nl_) throw RtError(EBADF, "PolicyRouting", "policy routing is closed");
    return fn(*nl_);
  } catch (const RtError& e) {
    ThrowRt(env, e);
    return env.Undefined();
  }
}

Napi::Value PolicyRoutingWrap::Install(const Napi::CallbackInfo& info) {
  Key key;
  if (!ReadKey(info, true, &key)) return info.Env().Undefined();
  return Call(info, [&](kernel::RtNetlink& nl) -> Napi::Value {
    kernel::InstallPolicyRouting(nl, key.mark, key.table, key.priority);
    return info.Env().Undefined();
  });
}

Napi::Value PolicyRoutingWrap::Remove(const Napi::CallbackInfo& info) {
  Key key;
  if (!ReadKey(info, false, &key)) return info.Env().Undefined();
  return Call(info, [&](kernel::RtNetlink& nl) -> Napi::Value {
    kernel::RemovePolicyRouting(nl, key.mark, key.table);
    return info.Env().Undefined();
  });
}

Napi::Value PolicyRoutingWrap::Status(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Key key;
  if (!ReadKey(info, false, &key)) return env.Undefined();
  return Call(info, [&](kernel::RtNetlink& nl) -> Napi::Value {
    kernel::PolicyRoutingState st = kernel::GetPolicyRouting(nl, key.mark, key.table);
    Napi::Array rules = Napi::Array::New(env, st.rules.size());
    for (size_t i = 0; i < st.rules.size(); i++) {
      const kernel::RtRule& r = st.rules[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("family", Napi::Number::New(env, FamilyNumber(r.family)));
      o.Set("mark", Napi::Number::New(env, r.mark));
      o.Set("table", Napi::Number::New(env, r.table));
      o.Set("priority", Napi::Number::New(env, r.priority));
      rules.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Array routes = Napi::Array::New(env, st.routes.size());
    for (size_t i = 0; i < st.routes.size(); i++) {
      const kernel::RtRoute& r = st.routes[i];
      std::string dev;
      if (r.oif > 0) {
        try {
          dev = nl.LinkName(r.oif);
        } catch (const RtError& e) {
          if (e.err() != ENODEV) throw;  // the device went away since the dump: report no name
        }
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("family", Napi::Number::New(env, FamilyNumber(r.family)));
      o.Set("table", Napi::Number::New(env, r.table));
      o.Set("type", Napi::String::New(env, RouteTypeName(r.type)));
      o.Set("dst", Napi::String::New(env, kernel::RtFormatPrefix(r)));
      o.Set("dev", Napi::String::New(env, dev));
      routes.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("rules", rules);
    out.Set("routes", routes);
    return out;
  });
}

Napi::Value PolicyRoutingWrap::Close(const Napi::CallbackInfo& info) {
  nl_.reset();  // idempotent: later calls report EBADF
  return info.Env().Undefined();
}

}  // namespace braid::addon
