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

class EventChannel : public std::enable_shared_from_this<EventChannel> {
 public:
  static std::shared_ptr<EventChannel> Create(Napi::Env env, Napi::Function callback,
                                              std::map<uint32_t, std::string> listener_names);
  EventChannel(const EventChannel&) = delete;
  EventChannel& operator=(const EventChannel&) = delete;
  ~EventChannel();

  relay::EventQueue& queue() { return *queue_; }
  const std::map<uint32_t, std::string>& listener_names() const { return names_; }
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
  std::map<uint32_t, std::string> names_;
  std::atomic<bool> cancelled_{false};
};

Napi::Value ConvertSubflow(Napi::Env env, const relay::SubflowStat& s);

}  // namespace braid::addon
