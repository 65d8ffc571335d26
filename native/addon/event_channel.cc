#include "addon/event_channel.h"

namespace braid::addon {

std::shared_ptr<EventChannel> EventChannel::Create(Napi::Env env, Napi::Function callback, LabelMap labels) {
  std::shared_ptr<EventChannel> ch(new EventChannel());
  ch->labels_ = std::move(labels);
  ch->callback_ = Napi::Persistent(callback);
  ch->tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "braid-events", 0, 1);
  std::weak_ptr<EventChannel> weak = ch;
  ch->queue_ = std::make_unique<relay::EventQueue>([weak] {
    auto self = weak.lock();
    if (!self || self->cancelled_) return;
    self->tsfn_.NonBlockingCall([weak](Napi::Env env, Napi::Function cb) {
      if (auto s = weak.lock()) s->Deliver(env, cb);
    });
  });
  return ch;
}

EventChannel::~EventChannel() = default;

Napi::Value ConvertSubflow(Napi::Env env, const relay::SubflowStat& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", s.id);
  o.Set("local", s.local);
  o.Set("remote", s.remote);
  o.Set("bytesSent", static_cast<double>(s.bytes_sent));
  o.Set("bytesReceived", static_cast<double>(s.bytes_received));
  o.Set("rttUs", s.rtt_us);
  o.Set("backup", false);  // the control plane knows which paths are backup
  o.Set("closed", s.closed);
  return o;
}

void SetListenerLabels(Napi::Object o, const LabelMap& labels, uint32_t id) {
  auto it = labels.find(id);
  o.Set("listener", it != labels.end() ? it->second.name : std::string("?"));
  o.Set("policy", it != labels.end() ? it->second.policy : std::string());
}

namespace {

Napi::Value ConvertEvent(Napi::Env env, const relay::Event& e, const LabelMap& labels) {
  using T = relay::Event::Type;
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(e.conn_id));
  SetListenerLabels(o, labels, e.listener_id);
  switch (e.type) {
    case T::kOpen:
      o.Set("type", "open");
      o.Set("worker", e.worker);
      o.Set("client", e.client);
      break;
    case T::kEstablished:
      o.Set("type", "established");
      o.Set("upstream", e.upstream);
      o.Set("outcome", relay::OutcomeName(e.outcome));
      o.Set("connectUs", static_cast<double>(e.connect_us));
      break;
    case T::kClose: {
      o.Set("type", "close");
      o.Set("worker", e.worker);
      o.Set("client", e.client);
      o.Set("upstream", e.upstream);
      o.Set("outcome", relay::OutcomeName(e.outcome));
      o.Set("reason", relay::CloseReasonName(e.reason));
      o.Set("errno", e.err);
      o.Set("durationMs", static_cast<double>(e.duration_ms));
      o.Set("bytesUp", static_cast<double>(e.bytes_up));
      o.Set("bytesDown", static_cast<double>(e.bytes_down));
      Napi::Array sfs = Napi::Array::New(env, e.subflows.size());
      for (size_t i = 0; i < e.subflows.size(); i++) sfs.Set(i, ConvertSubflow(env, e.subflows[i]));
      o.Set("subflows", sfs);
      break;
    }
    case T::kSubflowAdded:
    case T::kSubflowRemoved:
      o.Set("type", "subflow");
      o.Set("action", e.type == T::kSubflowAdded ? "added" : "removed");
      if (!e.subflows.empty()) o.Set("subflow", ConvertSubflow(env, e.subflows.front()));
      break;
  }
  return o;
}

}  // namespace

void EventChannel::Deliver(Napi::Env env, Napi::Function callback) {
  if (cancelled_) return;
  std::vector<relay::Event> batch = queue_->TakeAll();
  if (batch.empty()) return;
  Napi::HandleScope scope(env);
  Napi::Array arr = Napi::Array::New(env, batch.size());
  for (size_t i = 0; i < batch.size(); i++) arr.Set(i, ConvertEvent(env, batch[i], labels_));
  callback.Call({arr});
}

void EventChannel::Flush(Napi::Env env) {
  if (!cancelled_) Deliver(env, callback_.Value());
}

void EventChannel::Cancel() {
  if (cancelled_.exchange(true)) return;
  tsfn_.Release();
  callback_.Reset();
}

}  // namespace braid::addon
