#include "addon/socket_owner_fns.h"

#include <string>

#include "kernel/socket_owner.h"
#include "relay/sockaddr.h"

namespace braid::addon {
namespace {

// "198.18.1.1:80" or "[2001:db8::1]:80".
bool ParseEnd(const std::string& text, relay::SocketAddress* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = std::strtoul(text.c_str() + colon + 1, nullptr, 10);
  if (port > 65535) return false;
  return relay::ParseSocketAddress(host, static_cast<uint16_t>(port), *out);
}

// findSocketOwner(local, remote, hintPid): {inode, pid} of the socket with that local and remote
// end; pid is 0 when no process holds it; null when there is no such socket.
Napi::Value FindSocketOwnerJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "findSocketOwner(local: string, remote: string, hintPid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  relay::SocketAddress local, remote;
  if (!ParseEnd(info[0].As<Napi::String>().Utf8Value(), &local) || !ParseEnd(info[1].As<Napi::String>().Utf8Value(), &remote)) {
    return env.Null();
  }
  auto inode = kernel::FindTcpSocketInode(local, remote);
  if (!inode) return env.Null();
  auto pid = kernel::FindSocketOwner(*inode, static_cast<pid_t>(info[2].As<Napi::Number>().Int32Value()));
  Napi::Object o = Napi::Object::New(env);
  o.Set("inode", static_cast<double>(*inode));
  o.Set("pid", pid ? *pid : 0);
  return o;
}

// processCpus(pid): {allowed: number[], last: number}, or null when the process is gone.
Napi::Value ProcessCpusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "processCpus(pid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto cpus = kernel::ReadProcessCpus(static_cast<pid_t>(info[0].As<Napi::Number>().Int32Value()));
  if (!cpus) return env.Null();
  Napi::Array allowed = Napi::Array::New(env, cpus->allowed.size());
  for (size_t i = 0; i < cpus->allowed.size(); i++) allowed.Set(static_cast<uint32_t>(i), cpus->allowed[i]);
  Napi::Object o = Napi::Object::New(env);
  o.Set("allowed", allowed);
  o.Set("last", cpus->last);
  return o;
}

}  // namespace

void InitSocketOwnerFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("findSocketOwner", Napi::Function::New<FindSocketOwnerJs>(env, "findSocketOwner"));
  exports.Set("processCpus", Napi::Function::New<ProcessCpusJs>(env, "processCpus"));
}

}  // namespace braid::addon
