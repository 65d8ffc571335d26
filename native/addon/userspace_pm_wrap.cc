#include "addon/userspace_pm_wrap.h"

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "addon/errors.h"

namespace braid::addon {
namespace {

using kernel::PmAddress;

std::string FormatEnd(const PmAddress& a) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family, a.addr.data(), text, sizeof(text));
  std::string host = text;
  if (a.family == AF_INET6) host = "[" + host + "]";
  return host + ":" + std::to_string(a.port);
}

bool ParseHost(const std::string& text, PmAddress* out) {
  if (inet_pton(AF_INET, text.c_str(), out->addr.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out->addr.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

Napi::Value TypeError(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

void UserspacePmWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "UserspacePathManager",
                                   {
                                       InstanceMethod<&UserspacePmWrap::SetPreference>("setPreference"),
                                       InstanceMethod<&UserspacePmWrap::Snapshot>("snapshot"),
                                       InstanceMethod<&UserspacePmWrap::Close>("close"),
                                   });
  exports.Set("UserspacePathManager", cls);
}

UserspacePmWrap::UserspacePmWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UserspacePmWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    TypeError(env, "paths must be an array");
    return;
  }
  std::vector<kernel::PmPath> paths;
  Napi::Array arr = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) {
      TypeError(env, "paths[" + std::to_string(i) + "] must be an object");
      return;
    }
    Napi::Object o = v.As<Napi::Object>();
    kernel::PmPath p;
    p.id = static_cast<uint8_t>(o.Get("id").ToNumber().Uint32Value());
    p.name = o.Get("name").ToString().Utf8Value();
    p.ifindex = o.Get("ifindex").ToNumber().Int32Value();
    p.signal = o.Get("signal").ToBoolean().Value();
    p.subflow = o.Get("subflow").ToBoolean().Value();
    p.backup = o.Get("backup").ToBoolean().Value();
    Napi::Value addrs = o.Get("addresses");
    if (!addrs.IsArray()) {
      TypeError(env, "paths[" + std::to_string(i) + "].addresses must be an array");
      return;
    }
    Napi::Array a = addrs.As<Napi::Array>();
    for (uint32_t j = 0; j < a.Length(); j++) {
      PmAddress addr;
      if (!ParseHost(a.Get(j).ToString().Utf8Value(), &addr)) {
        TypeError(env, "paths[" + std::to_string(i) + "].addresses[" + std::to_string(j) + "] must be a numeric address");
        return;
      }
      p.addresses.push_back(addr);
    }
    paths.push_back(std::move(p));
  }
  try {
    pm_ = std::make_unique<kernel::UserspacePm>(std::move(paths));
  } catch (const kernel::NetlinkError& e) {
    MakeNativeError(env, "BRAID_NETLINK", e.what(), e.err(), e.op()).ThrowAsJavaScriptException();
  }
}

Napi::Value UserspacePmWrap::SetPreference(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!pm_) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsArray()) {
    return TypeError(env, "setPreference(token: number, tiers: number[][])");
  }
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  std::vector<std::vector<uint8_t>> tiers;
  Napi::Array arr = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value t = arr.Get(i);
    if (!t.IsArray()) return TypeError(env, "tiers[" + std::to_string(i) + "] must be an array of path ids");
    Napi::Array ta = t.As<Napi::Array>();
    std::vector<uint8_t> tier;
    for (uint32_t j = 0; j < ta.Length(); j++) tier.push_back(static_cast<uint8_t>(ta.Get(j).ToNumber().Uint32Value()));
    tiers.push_back(std::move(tier));
  }
  pm_->SetPreference(token, std::move(tiers));
  return env.Undefined();
}

Napi::Value UserspacePmWrap::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!pm_) return env.Null();
  kernel::UserspacePmSnapshot s = pm_->Snapshot();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array paths = Napi::Array::New(env, s.paths.size());
  for (size_t i = 0; i < s.paths.size(); i++) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("id", s.paths[i].id);
    p.Set("name", s.paths[i].name);
    p.Set("up", s.paths[i].up);
    paths.Set(static_cast<uint32_t>(i), p);
  }
  out.Set("paths", paths);
  Napi::Array conns = Napi::Array::New(env, s.connections.size());
  for (size_t i = 0; i < s.connections.size(); i++) {
    const kernel::PmConnectionView& c = s.connections[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("token", c.token);
    o.Set("serverSide", c.server_side);
    Napi::Array subs = Napi::Array::New(env, c.subflows.size());
    for (size_t j = 0; j < c.subflows.size(); j++) {
      Napi::Object so = Napi::Object::New(env);
      so.Set("path", c.subflows[j].path);
      so.Set("local", FormatEnd(c.subflows[j].local));
      so.Set("remote", FormatEnd(c.subflows[j].remote));
      so.Set("backup", c.subflows[j].backup);
      subs.Set(static_cast<uint32_t>(j), so);
    }
    o.Set("subflows", subs);
    Napi::Array active = Napi::Array::New(env, c.active_paths.size());
    for (size_t j = 0; j < c.active_paths.size(); j++) active.Set(static_cast<uint32_t>(j), c.active_paths[j]);
    o.Set("activePaths", active);
    conns.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("connections", conns);
  Napi::Object k = Napi::Object::New(env);
  const kernel::PmCounters& c = s.counters;
  k.Set("events", static_cast<double>(c.events));
  k.Set("subflowsCreated", static_cast<double>(c.subflows_created));
  k.Set("subflowCreateErrors", static_cast<double>(c.subflow_create_errors));
  k.Set("subflowsRecreated", static_cast<double>(c.subflows_recreated));
  k.Set("subflowsDestroyed", static_cast<double>(c.subflows_destroyed));
  k.Set("announces", static_cast<double>(c.announces));
  k.Set("announceErrors", static_cast<double>(c.announce_errors));
  k.Set("prioChanges", static_cast<double>(c.prio_changes));
  k.Set("prioErrors", static_cast<double>(c.prio_errors));
  k.Set("eventOverruns", static_cast<double>(s.event_overruns));
  out.Set("counters", k);
  return out;
}

Napi::Value UserspacePmWrap::Close(const Napi::CallbackInfo& info) {
  if (pm_) {
    pm_->Stop();
    pm_.reset();
  }
  return info.Env().Undefined();
}

}  // namespace braid::addon
