#pragma once
// Carries data-plane events from worker threads to one JS callback. Workers push plain structs;
// the first push into an empty queue schedules one call on the JS thread, which drains the whole
// batch. Non-copyable; cancel() makes later deliveries no-ops once the owner is gone.
#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "relay/events.h"

namespace braid::addon {

struct ListenerLabels {
  std::string name;
  std::string policy;
};
using LabelMap = std::map<uint32_t, ListenerLabels>;

class EventChannel : public std::enable_shared_from_this<EventChannel> {
 public:
  static std::shared_ptr<EventChannel> Create(Napi::Env env, Napi::Function callback, LabelMap labels);
  EventChannel(const EventChannel&) = delete;
  EventChannel& operator=(const EventChannel&) = delete;
  ~EventChannel();

  relay::EventQueue& queue() { return *queue_; }
  // JS thread only (conversions happen there too).
  const LabelMap& labels() const { return labels_; }
  void AddLabels(uint32_t id, ListenerLabels labels) { labels_[id] = std::move(labels); }
  // On the JS thread: deliver what is queued now, synchronously.
  void Flush(Napi::Env env);
  // On the JS thread: stop delivering and let the process exit without waiting for us.
  void Cancel();

 private:
  EventChannel() = default;
  void Deliver(Napi::Env env, Napi::Function callback);

  std::unique_ptr<relay::EventQueue> queue_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference callback_;
  LabelMap labels_;
  std::atomic<bool> cancelled_{false};
};

Napi::Value ConvertSubflow(Napi::Env env, const relay::SubflowStat& s);
// Sets `listener` and `policy` on o from the labels of listener `id`.
void SetListenerLabels(Napi::Object o, const LabelMap& labels, uint32_t id);

}  // namespace braid::addon
