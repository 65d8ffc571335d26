#include "addon/dataplane_wrap.h"

#include "addon/errors.h"
#include "addon/spec_from_js.h"

namespace braid::addon {

void DataplaneWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Dataplane",
                                   {
                                       InstanceMethod("listenerAddresses", &DataplaneWrap::ListenerAddresses),
                                       InstanceMethod("stopAccepting", &DataplaneWrap::StopAccepting),
                                       InstanceMethod("addListeners", &DataplaneWrap::AddListeners),
                                       InstanceMethod("removeListeners", &DataplaneWrap::RemoveListeners),
                                       InstanceMethod("abortConnections", &DataplaneWrap::AbortConnections),
                                       InstanceMethod("setLimits", &DataplaneWrap::SetLimits),
                                       InstanceMethod("activeConnections", &DataplaneWrap::ActiveConnections),
                                       InstanceMethod("moveConnection", &DataplaneWrap::MoveConnection),
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
  LabelMap labels;
  for (const auto& l : spec.listeners) labels[l.id] = ListenerLabels{l.name, l.policy};
  channel_ = EventChannel::Create(env, info[1].As<Napi::Function>(), std::move(labels));
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

namespace {

Napi::Array ConvertBound(Napi::Env env, const std::vector<relay::BoundListener>& bound) {
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

}  // namespace

Napi::Value DataplaneWrap::ListenerAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  return ConvertBound(env, dataplane_->listeners());
}

Napi::Value DataplaneWrap::AddListeners(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  std::vector<relay::ListenerSpec> specs;
  std::string problem;
  if (info.Length() < 1 || !ListenerSpecsFromJs(info[0], specs, problem)) {
    Napi::TypeError::New(env, "addListeners(listeners): " + (problem.empty() ? "missing argument" : problem))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<ListenerLabels> labels;
  std::vector<uint32_t> ids;
  for (const auto& l : specs) {
    labels.push_back(ListenerLabels{l.name, l.policy});
    ids.push_back(l.id);
  }
  try {
    auto bound = dataplane_->AddListeners(std::move(specs));
    for (size_t i = 0; i < ids.size(); i++) channel_->AddLabels(ids[i], labels[i]);
    return ConvertBound(env, bound);
  } catch (const relay::SystemError& e) {
    MakeNativeError(env, e.code, e.what(), e.err, e.syscall, e.address).ThrowAsJavaScriptException();
    return env.Undefined();
  }
}

namespace {

bool IdsFromJs(Napi::Value v, std::vector<uint32_t>& ids) {
  if (!v.IsArray()) return false;
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value id = arr.Get(i);
    if (!id.IsNumber()) return false;
    ids.push_back(id.As<Napi::Number>().Uint32Value());
  }
  return true;
}

}  // namespace

Napi::Value DataplaneWrap::RemoveListeners(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  std::vector<uint32_t> ids;
  if (info.Length() < 1 || !IdsFromJs(info[0], ids)) {
    Napi::TypeError::New(env, "removeListeners(ids: number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  dataplane_->RemoveListeners(ids);
  return env.Undefined();
}

Napi::Value DataplaneWrap::AbortConnections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "abortConnections(listenerId: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  dataplane_->AbortConnections(info[0].As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

Napi::Value DataplaneWrap::SetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  relay::DataplaneSpec limits;
  std::string problem;
  if (info.Length() < 1 || !info[0].IsObject() || !LimitsFromJs(info[0].As<Napi::Object>(), limits, problem)) {
    Napi::TypeError::New(env, "setLimits({maxConnections, connectTimeoutMs, idleTimeoutMs}): " + problem)
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  dataplane_->SetLimits(limits.max_connections, limits.connect_timeout_ms, limits.idle_timeout_ms);
  return env.Undefined();
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
  if (info.Length() >= 1 && info[0].IsNumber()) {
    return Napi::Number::New(env, dataplane_->ActiveConnections(info[0].As<Napi::Number>().Uint32Value()));
  }
  return Napi::Number::New(env, dataplane_->ActiveConnections());
}

Napi::Value DataplaneWrap::MoveConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0 ||
      info[1].As<Napi::Number>().DoubleValue() < 0) {
    Napi::TypeError::New(env, "moveConnection(id: number, worker: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double worker = info[1].As<Napi::Number>().DoubleValue();
  if (worker > UINT32_MAX) return Napi::Boolean::New(env, false);
  const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Boolean::New(env, dataplane_->MoveConnection(id, static_cast<uint32_t>(worker)));
}

Napi::Value DataplaneWrap::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  relay::DataplaneSnapshot snap = dataplane_->Snapshot();
  const auto& labels = channel_->labels();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array conns = Napi::Array::New(env, snap.connections.size());
  for (size_t i = 0; i < snap.connections.size(); i++) {
    const auto& c = snap.connections[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", static_cast<double>(c.id));
    SetListenerLabels(o, labels, c.listener_id);
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
    if (c.token != 0) o.Set("token", c.token);
    if (!c.app_local.empty()) o.Set("appLocal", c.app_local);
    if (!c.app_remote.empty()) o.Set("appRemote", c.app_remote);
    o.Set("migrations", c.migrations);
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
  out.Set("migrations", static_cast<double>(snap.migrations));
  Napi::Array workers = Napi::Array::New(env, snap.workers.size());
  for (size_t i = 0; i < snap.workers.size(); i++) {
    const auto& w = snap.workers[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", w.index);
    o.Set("tid", w.tid);
    Napi::Array cpus = Napi::Array::New(env, w.cpus.size());
    for (size_t j = 0; j < w.cpus.size(); j++) cpus.Set(j, w.cpus[j]);
    o.Set("cpus", cpus);
    o.Set("pinErrno", w.pin_errno);
    workers.Set(i, o);
  }
  out.Set("workers", workers);
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
