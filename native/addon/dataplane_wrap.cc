#include "addon/dataplane_wrap.h"

#include "addon/errors.h"
#include "addon/spec_from_js.h"

namespace braid::addon {

void DataplaneWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Dataplane",
                                   {
                                       InstanceMethod("listenerAddresses", &DataplaneWrap::ListenerAddresses),
                                       InstanceMethod("stopAccepting", &DataplaneWrap::StopAccepting),
                                       InstanceMethod("activeConnections", &DataplaneWrap::ActiveConnections),
                                       InstanceMethod("snapshot", &DataplaneWrap::Snapshot),
                                       InstanceMethod("close", &DataplaneWrap::Close),
                                   });
  exports.Set("Dataplane", cls);
}

DataplaneWrap::DataplaneWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataplaneWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "Dataplane(spec: object, onEvents: function)").ThrowAsJavaScriptException();
    return;
  }
  relay::DataplaneSpec spec;
  std::string problem;
  if (!DataplaneSpecFromJs(info[0].As<Napi::Object>(), spec, problem)) {
    Napi::TypeError::New(env, "invalid dataplane spec: " + problem).ThrowAsJavaScriptException();
    return;
  }
  std::map<uint32_t, std::string> names;
  for (const auto& l : spec.listeners) names[l.id] = l.name;
  channel_ = EventChannel::Create(env, info[1].As<Napi::Function>(), std::move(names));
  try {
    dataplane_ = std::make_unique<relay::Dataplane>(std::move(spec), channel_->queue());
  } catch (const relay::SystemError& e) {
    channel_->Cancel();
    MakeNativeError(env, e.code, e.what(), e.err, e.syscall, e.address).ThrowAsJavaScriptException();
    return;
  }
  dataplane_->Start();
}

DataplaneWrap::~DataplaneWrap() {
  // Garbage-collected without close(): stop the threads; events can no longer be delivered.
  if (dataplane_) dataplane_->Close();
  if (channel_) channel_->Cancel();
}

bool DataplaneWrap::CheckOpen(Napi::Env env) {
  if (dataplane_) return true;
  MakeNativeError(env, "BRAID_NATIVE", "the data plane is closed").ThrowAsJavaScriptException();
  return false;
}

Napi::Value DataplaneWrap::ListenerAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  const auto& bound = dataplane_->listeners();
  Napi::Array arr = Napi::Array::New(env, bound.size());
  for (size_t i = 0; i < bound.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", bound[i].id);
    o.Set("host", bound[i].host);
    o.Set("port", bound[i].port);
    arr.Set(i, o);
  }
  return arr;
}

Napi::Value DataplaneWrap::StopAccepting(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  dataplane_->StopAccepting();
  return env.Undefined();
}

Napi::Value DataplaneWrap::ActiveConnections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!dataplane_) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, dataplane_->ActiveConnections());
}

Napi::Value DataplaneWrap::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  relay::DataplaneSnapshot snap = dataplane_->Snapshot();
  const auto& names = channel_->listener_names();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array conns = Napi::Array::New(env, snap.connections.size());
  for (size_t i = 0; i < snap.connections.size(); i++) {
    const auto& c = snap.connections[i];
    Napi::Object o = Napi::Object::New(env);
    auto name = names.find(c.listener_id);
    o.Set("id", static_cast<double>(c.id));
    o.Set("listener", name != names.end() ? name->second : std::string("?"));
    o.Set("worker", c.worker);
    o.Set("state", relay::ConnStateName(c.state));
    o.Set("client", c.client);
    o.Set("upstream", c.upstream);
    o.Set("outcome", relay::OutcomeName(c.outcome));
    o.Set("ageMs", static_cast<double>(c.age_ms));
    o.Set("bytesUp", static_cast<double>(c.bytes_up));
    o.Set("bytesDown", static_cast<double>(c.bytes_down));
    Napi::Array sfs = Napi::Array::New(env, c.subflows.size());
    for (size_t j = 0; j < c.subflows.size(); j++) sfs.Set(j, ConvertSubflow(env, c.subflows[j]));
    o.Set("subflows", sfs);
    conns.Set(i, o);
  }
  out.Set("connections", conns);
  Napi::Array bytes = Napi::Array::New(env, snap.address_bytes.size());
  size_t k = 0;
  for (const auto& [addr, b] : snap.address_bytes) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("address", addr);
    o.Set("sent", static_cast<double>(b.sent));
    o.Set("received", static_cast<double>(b.received));
    bytes.Set(k++, o);
  }
  out.Set("addressBytes", bytes);
  out.Set("accepted", static_cast<double>(snap.accepted));
  out.Set("refused", static_cast<double>(snap.refused));
  out.Set("active", snap.active);
  return out;
}

Napi::Value DataplaneWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!dataplane_) return env.Undefined();
  dataplane_->Close();  // joins the workers; their last close events are queued by now
  dataplane_.reset();
  channel_->Flush(env);
  channel_->Cancel();
  return env.Undefined();
}

}  // namespace braid::addon
