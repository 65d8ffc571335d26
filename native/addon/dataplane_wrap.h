#pragma once
// `Dataplane` as seen from JS: see NativeDataplane in src/dataplane/types.ts.
#include <napi.h>

#include <memory>

#include "addon/event_channel.h"
#include "relay/dataplane.h"

namespace braid::addon {

class DataplaneWrap : public Napi::ObjectWrap<DataplaneWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit DataplaneWrap(const Napi::CallbackInfo& info);
  ~DataplaneWrap() override;

 private:
  Napi::Value ListenerAddresses(const Napi::CallbackInfo& info);
  Napi::Value StopAccepting(const Napi::CallbackInfo& info);
  Napi::Value AddListeners(const Napi::CallbackInfo& info);
  Napi::Value RemoveListeners(const Napi::CallbackInfo& info);
  Napi::Value AbortConnections(const Napi::CallbackInfo& info);
  Napi::Value SetLimits(const Napi::CallbackInfo& info);
  Napi::Value ActiveConnections(const Napi::CallbackInfo& info);
  Napi::Value MoveConnection(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  bool CheckOpen(Napi::Env env);

  std::shared_ptr<EventChannel> channel_;
  std::unique_ptr<relay::Dataplane> dataplane_;
};

}  // namespace braid::addon
