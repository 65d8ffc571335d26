#include "addon/spec_from_js.h"

namespace braid::addon {
namespace {

bool GetUint(Napi::Object o, const char* key, uint32_t& out, std::string& problem) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0) {
    problem = std::string(key) + " must be a non-negative number";
    return false;
  }
  out = v.As<Napi::Number>().Uint32Value();
  return true;
}

bool GetString(Napi::Object o, const char* key, std::string& out, std::string& problem) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) {
    problem = std::string(key) + " must be a string";
    return false;
  }
  out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool GetAddress(Napi::Object o, const char* key, relay::SocketAddress& out, std::string& problem) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) {
    problem = std::string(key) + " must be {host, port}";
    return false;
  }
  std::string host;
  uint32_t port = 0;
  if (!GetString(v.As<Napi::Object>(), "host", host, problem) || !GetUint(v.As<Napi::Object>(), "port", port, problem))
    return false;
  if (port > 65535 || !relay::ParseSocketAddress(host, static_cast<uint16_t>(port), out)) {
    problem = std::string(key) + ": not a numeric address and port: " + host + " " + std::to_string(port);
    return false;
  }
  return true;
}

bool GetProtocol(Napi::Object o, const char* key, relay::Protocol& out, std::string& problem) {
  std::string s;
  if (!GetString(o, key, s, problem)) return false;
  if (s == "tcp") {
    out = relay::Protocol::kTcp;
  } else if (s == "mptcp") {
    out = relay::Protocol::kMptcp;
  } else {
    problem = std::string(key) + " must be tcp or mptcp";
    return false;
  }
  return true;
}

// workerCpus: absent, or one CPU list per worker (fewer lists than workers leave the rest unpinned).
bool GetWorkerCpus(Napi::Object o, std::vector<std::vector<int>>& out, std::string& problem) {
  Napi::Value v = o.Get("workerCpus");
  if (v.IsUndefined()) return true;
  problem = "workerCpus must be an array of arrays of CPU numbers";
  if (!v.IsArray()) return false;
  Napi::Array workers = v.As<Napi::Array>();
  for (uint32_t w = 0; w < workers.Length(); w++) {
    Napi::Value list = workers.Get(w);
    if (!list.IsArray()) return false;
    Napi::Array cpus = list.As<Napi::Array>();
    std::vector<int> row;
    for (uint32_t i = 0; i < cpus.Length(); i++) {
      Napi::Value cpu = cpus.Get(i);
      // Range is the kernel's to judge (a refused pin is reported, not fatal); type is ours.
      if (!cpu.IsNumber() || cpu.As<Napi::Number>().DoubleValue() < 0 ||
          cpu.As<Napi::Number>().DoubleValue() > 1e6) {
        problem = "workerCpus[" + std::to_string(w) + "][" + std::to_string(i) + "] must be a CPU number";
        return false;
      }
      row.push_back(cpu.As<Napi::Number>().Int32Value());
    }
    out.push_back(std::move(row));
  }
  problem.clear();
  return true;
}

}  // namespace

bool LimitsFromJs(Napi::Object js, relay::DataplaneSpec& out, std::string& problem) {
  return GetUint(js, "maxConnections", out.max_connections, problem) &&
         GetUint(js, "connectTimeoutMs", out.connect_timeout_ms, problem) &&
         GetUint(js, "idleTimeoutMs", out.idle_timeout_ms, problem);
}

bool DataplaneSpecFromJs(Napi::Object js, relay::DataplaneSpec& out, std::string& problem) {
  uint32_t workers = 0;
  if (!GetUint(js, "workers", workers, problem) || !GetUint(js, "maxConnections", out.max_connections, problem) ||
      !GetUint(js, "connectTimeoutMs", out.connect_timeout_ms, problem) ||
      !GetUint(js, "idleTimeoutMs", out.idle_timeout_ms, problem) || !GetUint(js, "pipeSize", out.pipe_size, problem) ||
      !GetUint(js, "subflowPollMs", out.subflow_poll_ms, problem) ||
      !GetUint(js, "upstreamMark", out.upstream_mark, problem))
    return false;
  out.workers = workers;
  if (!GetWorkerCpus(js, out.worker_cpus, problem)) return false;
  return ListenerSpecsFromJs(js.Get("listeners"), out.listeners, problem);
}

bool ListenerSpecsFromJs(Napi::Value ls, std::vector<relay::ListenerSpec>& out, std::string& problem) {
  if (!ls.IsArray()) {
    problem = "listeners must be an array";
    return false;
  }
  Napi::Array arr = ls.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    if (!item.IsObject()) {
      problem = "listeners[" + std::to_string(i) + "] must be an object";
      return false;
    }
    Napi::Object o = item.As<Napi::Object>();
    relay::ListenerSpec l;
    std::string mode, fallback;
    uint32_t backlog = 0;
    if (!GetUint(o, "id", l.id, problem) || !GetString(o, "name", l.name, problem) ||
        !GetString(o, "mode", mode, problem) || !GetAddress(o, "listen", l.listen, problem) ||
        !GetProtocol(o, "listenProtocol", l.listen_protocol, problem) || !GetAddress(o, "target", l.target, problem) ||
        !GetProtocol(o, "targetProtocol", l.target_protocol, problem) || !GetUint(o, "backlog", backlog, problem) ||
        !GetString(o, "fallback", fallback, problem) || !GetString(o, "policy", l.policy, problem)) {
      problem = "listeners[" + std::to_string(i) + "]." + problem;
      return false;
    }
    Napi::Value od = o.Get("originalDestination");
    if (!od.IsBoolean()) {
      problem = "listeners[" + std::to_string(i) + "].originalDestination must be a boolean";
      return false;
    }
    l.original_destination = od.As<Napi::Boolean>().Value();
    Napi::Value tp = o.Get("tproxy");
    if (!tp.IsBoolean()) {
      problem = "listeners[" + std::to_string(i) + "].tproxy must be a boolean";
      return false;
    }
    l.tproxy = tp.As<Napi::Boolean>().Value();
    if (mode == "forward") {
      l.mode = relay::ListenerMode::kForward;
    } else if (mode == "inbound") {
      l.mode = relay::ListenerMode::kInbound;
    } else {
      problem = "listeners[" + std::to_string(i) + "].mode must be forward or inbound";
      return false;
    }
    if (fallback == "allow") {
      l.fallback = relay::Fallback::kAllow;
    } else if (fallback == "deny") {
      l.fallback = relay::Fallback::kDeny;
    } else {
      problem = "listeners[" + std::to_string(i) + "].fallback must be allow or deny";
      return false;
    }
    l.backlog = static_cast<int>(backlog);
    out.push_back(std::move(l));
  }
  return true;
}

}  // namespace braid::addon
