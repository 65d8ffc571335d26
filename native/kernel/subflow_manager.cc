#include "kernel/subflow_manager.h"

#include <errno.h>

#include <algorithm>
#include <climits>

namespace braid::kernel {
namespace {

int CommonPrefixBits(const PmAddress& a, const PmAddress& b) {
  if (a.family != b.family) return -1;
  const size_t len = a.family == AF_INET ? 4 : 16;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t x = a.addr[i] ^ b.addr[i];
    if (x == 0) {
      bits += 8;
      continue;
    }
    while ((x & 0x80) == 0) {
      bits++;
      x = static_cast<uint8_t>(x << 1);
    }
    break;
  }
  return bits;
}

bool SameHost(const PmAddress& a, const PmAddress& b) { return a.family == b.family && a.addr == b.addr; }

}  // namespace

SubflowManager::SubflowManager(std::vector<PmPath> paths, PmActions& actions)
    : paths_(std::move(paths)), actions_(actions) {
  for (const PmPath& p : paths_) up_[p.id] = true;
}

const PmPath* SubflowManager::PathById(uint8_t id) const {
  for (const PmPath& p : paths_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

uint8_t SubflowManager::PathByIfindex(int32_t ifindex) const {
  for (const PmPath& p : paths_) {
    if (ifindex != 0 && p.ifindex == ifindex) return p.id;
  }
  return 0;
}

// Which link a subflow uses: the device it is bound to (subflows this node opened), else the
// route to its remote end, else the path owning its local address.
uint8_t SubflowManager::PathOf(const PmAddress& local, const PmAddress& remote, int32_t ifindex) const {
  if (uint8_t id = PathByIfindex(ifindex); id != 0) return id;
  if (uint8_t id = PathByIfindex(actions_.RouteInterface(remote)); id != 0) return id;
  for (const PmPath& p : paths_) {
    for (const PmAddress& a : p.addresses) {
      if (SameHost(a, local)) return p.id;
    }
  }
  return 0;
}

const PmAddress* SubflowManager::PathAddress(const PmPath& p, int family) const {
  for (const PmAddress& a : p.addresses) {
    if (a.family == family) return &a;
  }
  return nullptr;
}

bool SubflowManager::PathUp(uint8_t id) const {
  auto it = up_.find(id);
  return it != up_.end() && it->second;
}

bool SubflowManager::HasSubflow(const Conn& c, uint8_t path) const {
  return std::any_of(c.subflows.begin(), c.subflows.end(), [path](const Subflow& s) { return s.path == path; });
}

PmAddress SubflowManager::RemoteFor(const Conn& c, const PmPath& p) const {
  const PmAddress* local = PathAddress(p, c.remote0.family);
  PmAddress best = c.remote0;
  int best_bits = -1;
  if (local != nullptr) {
    // The initial address competes too: on a flat network it is as good as any announced one.
    best_bits = CommonPrefixBits(*local, c.remote0);
    for (const auto& [id, addr] : c.announced) {
      int bits = CommonPrefixBits(*local, addr);
      if (bits > best_bits) {
        best_bits = bits;
        best = addr;
        if (best.port == 0) best.port = c.remote0.port;
      }
    }
  }
  return best;
}

void SubflowManager::OnEvent(const PmEvent& ev, int64_t now_ms) {
  counters_.events++;
  switch (ev.type) {
    case PmEventType::kCreated:
    case PmEventType::kEstablished: {
      Conn& c = conns_[ev.token];
      c.server_side = ev.server_side;
      if (ev.has_local) c.local0 = ev.local;
      if (ev.has_remote) c.remote0 = ev.remote;
      if (ev.type == PmEventType::kEstablished && !c.established) {
        c.established = true;
        uint8_t path0 = PathOf(c.local0, c.remote0, ev.ifindex);
        if (!HasSubflow(c, path0) || path0 == 0) {
          c.subflows.push_back({path0, c.local0, c.remote0, false});
        }
        if (auto it = pending_prefs_.find(ev.token); it != pending_prefs_.end()) {
          c.tiers = std::move(it->second.tiers);
          pending_prefs_.erase(it);
        }
        if (c.server_side) {
          Announce(ev.token, c);
        } else {
          OpenMissing(ev.token, c, now_ms);
        }
        ApplyPreference(ev.token, c);
      }
      break;
    }
    case PmEventType::kClosed:
      conns_.erase(ev.token);
      pending_prefs_.erase(ev.token);
      break;
    case PmEventType::kAnnounced: {
      auto it = conns_.find(ev.token);
      if (it == conns_.end() || !ev.has_remote) break;
      it->second.announced[ev.rem_id] = ev.remote;
      if (!it->second.server_side) OpenMissing(ev.token, it->second, now_ms);
      break;
    }
    case PmEventType::kRemoved: {
      auto it = conns_.find(ev.token);
      if (it != conns_.end()) it->second.announced.erase(ev.rem_id);
      break;
    }
    case PmEventType::kSubEstablished: {
      auto it = conns_.find(ev.token);
      if (it == conns_.end() || !ev.has_local || !ev.has_remote) break;
      Conn& c = it->second;
      uint8_t path = PathOf(ev.local, ev.remote, ev.ifindex);
      c.subflows.push_back({path, ev.local, ev.remote, ev.backup});
      if (path != 0) {
        PathAttempt& a = c.attempts[path];
        if (a.lost) counters_.subflows_recreated++;
        a = PathAttempt{};
      }
      ApplyPreference(ev.token, c);
      break;
    }
    case PmEventType::kSubClosed: {
      auto it = conns_.find(ev.token);
      if (it == conns_.end()) break;
      Conn& c = it->second;
      uint8_t path = 0;
      bool was_established = false;
      for (auto s = c.subflows.begin(); s != c.subflows.end(); ++s) {
        if (s->local == ev.local && s->remote == ev.remote) {
          path = s->path;
          c.subflows.erase(s);
          was_established = true;
          break;
        }
      }
      if (path == 0) {
        // A subflow that never established: one this node opened, so its local address names
        // the path it was opened on.
        path = PathByIfindex(ev.ifindex);
        for (const PmPath& p : paths_) {
          for (const PmAddress& a : p.addresses) {
            if (path == 0 && SameHost(a, ev.local)) path = p.id;
          }
        }
      }
      if (path != 0 && !c.server_side) {
        PathAttempt& a = c.attempts[path];
        a.pending = false;
        if (was_established) a.lost = true;
        if (!HasSubflow(c, path)) ScheduleRetry(a, now_ms);
      }
      ApplyPreference(ev.token, c);
      break;
    }
    case PmEventType::kSubPriority: {
      auto it = conns_.find(ev.token);
      if (it == conns_.end()) break;
      for (Subflow& s : it->second.subflows) {
        if (s.local == ev.local && s.remote == ev.remote) s.backup = ev.backup;
      }
      break;
    }
    case PmEventType::kUnknown:
      break;
  }
}

void SubflowManager::Announce(uint32_t token, Conn& c) {
  for (const PmPath& p : paths_) {
    if (!p.signal || !PathUp(p.id)) continue;
    const PmAddress* addr = PathAddress(p, c.local0.family);
    if (addr == nullptr || SameHost(*addr, c.local0)) continue;  // the peer knows that one already
    if (actions_.Announce(token, p.id, *addr) == 0) {
      counters_.announces++;
    } else {
      counters_.announce_errors++;
    }
  }
}

void SubflowManager::OpenMissing(uint32_t token, Conn& c, int64_t now_ms) {
  if (!c.established || c.server_side) return;
  for (const PmPath& p : paths_) {
    if (!p.subflow || !PathUp(p.id) || HasSubflow(c, p.id)) continue;
    PathAttempt& a = c.attempts[p.id];
    if (a.pending) continue;
    if (a.due != 0 && a.due > now_ms) continue;
    TryCreate(token, c, p, now_ms);
  }
}

void SubflowManager::TryCreate(uint32_t token, Conn& c, const PmPath& p, int64_t now_ms) {
  PathAttempt& a = c.attempts[p.id];
  const PmAddress* local = PathAddress(p, c.remote0.family);
  if (local == nullptr) return;  // the path has no address of the connection's family
  PmAddress remote = RemoteFor(c, p);
  int err = actions_.CreateSubflow(token, p.id, *local, p.ifindex, p.backup, remote);
  if (err == 0) {
    counters_.subflows_created++;
    a.pending = true;
    a.pending_since = now_ms;
    a.due = 0;
  } else {
    counters_.subflow_create_errors++;
    ScheduleRetry(a, now_ms);
  }
}

void SubflowManager::ScheduleRetry(PathAttempt& a, int64_t now_ms) {
  int64_t delay = kRetryFirstMs << std::min(a.failures, 5);
  a.failures++;
  a.due = now_ms + std::min(delay, kRetryMaxMs);
}

void SubflowManager::OnLink(int32_t ifindex, bool up, int64_t now_ms) {
  for (const PmPath& p : paths_) {
    if (p.ifindex != ifindex || PathUp(p.id) == up) continue;
    up_[p.id] = up;
    for (auto& [token, c] : conns_) {
      if (!up) {
        // Its subflows would only retransmit into a dead link until their RTO gives up; close
        // them now so the connection's data moves to the other paths and a fresh subflow can be
        // made when the link returns.
        for (auto s = c.subflows.begin(); s != c.subflows.end();) {
          if (s->path == p.id && s->local.port != 0 && s->remote.port != 0 &&
              actions_.DestroySubflow(token, s->local, s->remote) == 0) {
            counters_.subflows_destroyed++;
            c.attempts[p.id].lost = true;
            s = c.subflows.erase(s);
          } else {
            ++s;
          }
        }
      } else {
        PathAttempt& a = c.attempts[p.id];
        a.failures = 0;
        a.due = 0;
        a.pending = false;
        OpenMissing(token, c, now_ms);
      }
      ApplyPreference(token, c);
    }
  }
}

void SubflowManager::SetPreference(uint32_t token, std::vector<std::vector<uint8_t>> tiers, int64_t now_ms) {
  auto it = conns_.find(token);
  if (it == conns_.end() || !it->second.established) {
    pending_prefs_[token] = {std::move(tiers), now_ms};
    return;
  }
  it->second.tiers = std::move(tiers);
  ApplyPreference(token, it->second);
}

void SubflowManager::ApplyPreference(uint32_t token, Conn& c) {
  if (c.tiers.empty()) {
    c.active.clear();
    return;
  }
  auto usable = [&](uint8_t path) { return path != 0 && PathUp(path) && HasSubflow(c, path); };
  const std::vector<uint8_t>* active = nullptr;
  for (const auto& tier : c.tiers) {
    if (std::any_of(tier.begin(), tier.end(), usable)) {
      active = &tier;
      break;
    }
  }
  if (active == nullptr) {
    // Nothing preferred is usable: every subflow may carry data (the kernel's own choice).
    c.active.clear();
    for (Subflow& s : c.subflows) {
      if (s.backup && s.local.port != 0 && actions_.SetBackup(token, s.local, s.remote, false) == 0) {
        s.backup = false;
        counters_.prio_changes++;
      }
    }
    return;
  }
  c.active.clear();
  for (uint8_t id : *active) {
    if (usable(id)) c.active.push_back(id);
  }
  for (Subflow& s : c.subflows) {
    bool want_backup = std::find(c.active.begin(), c.active.end(), s.path) == c.active.end();
    if (s.backup == want_backup || s.local.port == 0) continue;
    if (actions_.SetBackup(token, s.local, s.remote, want_backup) == 0) {
      s.backup = want_backup;
      counters_.prio_changes++;
    } else {
      counters_.prio_errors++;
    }
  }
}

void SubflowManager::Tick(int64_t now_ms) {
  for (auto& [token, c] : conns_) {
    if (c.server_side || !c.established) continue;
    for (auto& [path, a] : c.attempts) {
      if (a.pending && now_ms - a.pending_since >= kPendingTimeoutMs) {
        a.pending = false;
        ScheduleRetry(a, now_ms);
      }
    }
    OpenMissing(token, c, now_ms);
  }
  // Preferences for connections that never showed up (closed before established).
  for (auto it = pending_prefs_.begin(); it != pending_prefs_.end();) {
    it = now_ms - it->second.since > 60000 ? pending_prefs_.erase(it) : std::next(it);
  }
}

int64_t SubflowManager::NextDeadline() const {
  int64_t next = INT64_MAX;
  for (const auto& [token, c] : conns_) {
    if (c.server_side || !c.established) continue;
    for (const auto& [path, a] : c.attempts) {
      if (a.due != 0 && !HasSubflow(c, path) && PathUp(path)) next = std::min(next, a.due);
      if (a.pending) next = std::min(next, a.pending_since + kPendingTimeoutMs);
    }
  }
  return next;
}

std::vector<PmConnectionView> SubflowManager::Connections() const {
  std::vector<PmConnectionView> out;
  for (const auto& [token, c] : conns_) {
    PmConnectionView v;
    v.token = token;
    v.server_side = c.server_side;
    for (const Subflow& s : c.subflows) v.subflows.push_back({s.path, s.local, s.remote, s.backup});
    v.active_paths = c.active;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<PmPathView> SubflowManager::Paths() const {
  std::vector<PmPathView> out;
  for (const PmPath& p : paths_) out.push_back({p.id, p.name, PathUp(p.id)});
  return out;
}

}  // namespace braid::kernel
