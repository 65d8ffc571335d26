#include "ustack/mptcp/path_manager.h"

#include <algorithm>
#include <limits>

namespace braid::ustack::mptcp {

const char* PmActionKindName(PmActionKind k) {
  switch (k) {
    case PmActionKind::kAnnounce: return "Announce";
    case PmActionKind::kEchoAddAddr: return "EchoAddAddr";
    case PmActionKind::kRemoveAddr: return "RemoveAddr";
    case PmActionKind::kCreateSubflow: return "CreateSubflow";
    case PmActionKind::kCloseSubflow: return "CloseSubflow";
    case PmActionKind::kSetPrio: return "SetPrio";
  }
  return "?";
}

PathManager::PathManager(const PmConfig& cfg, std::vector<LocalPath> paths, bool active) : cfg_(cfg), active_(active) {
  for (LocalPath& p : paths) paths_[p.id] = p;
}

const LocalPath* PathManager::Path(std::uint8_t id) const {
  auto it = paths_.find(id);
  return it == paths_.end() ? nullptr : &it->second;
}

bool PathManager::HasSubflow(const Pair& p) const {
  return std::any_of(subflows_.begin(), subflows_.end(),
                     [&](const auto& kv) { return kv.second.local_id == p.first && kv.second.remote_id == p.second; });
}

// The subflows this end should have now: the active end one per usable local path to the peer's
// initial address; either end one from its first path to each address the peer announced.
std::vector<PathManager::Pair> PathManager::Wanted() const {
  std::vector<Pair> want;
  if (!established_) return want;
  if (active_) {
    for (const auto& [id, p] : paths_) {
      if (p.up && (p.subflow || id == first_local_)) want.emplace_back(id, 0);
    }
  }
  const LocalPath* first = Path(first_local_);
  if (first == nullptr || first->up) {
    for (const auto& [rid, r] : remotes_) {
      if (rid != 0) want.emplace_back(first_local_, rid);
    }
  }
  return want;
}

void PathManager::Refresh(Instant now) {
  if (!established_) return;
  for (const Pair& pair : Wanted()) {
    if (HasSubflow(pair) || pending_.count(pair) != 0) continue;
    auto retry = retries_.find(pair);
    if (retry != retries_.end() && retry->second.due > now) continue;
    const std::size_t extra = (subflows_.empty() ? 0 : subflows_.size() - 1) + pending_.size();
    if (extra >= cfg_.max_subflows) break;
    const LocalPath* path = Path(pair.first);
    PmAction a;
    a.kind = PmActionKind::kCreateSubflow;
    a.local_id = pair.first;
    a.remote_id = pair.second;
    a.local = path != nullptr ? path->addr : Endpoint{};
    a.remote = remotes_.at(pair.second).addr;
    a.backup = path != nullptr && path->backup;
    actions_.push_back(a);
    pending_[pair] = now;
    ++counters_.subflows_created;
    if (retry != retries_.end()) ++counters_.subflows_recreated;
  }
  if (!active_) {
    for (const auto& [id, p] : paths_) {
      if (!p.signal || !p.up || id == first_local_ || announced_.count(id) != 0) continue;
      actions_.push_back(PmAction{.kind = PmActionKind::kAnnounce, .local_id = id, .local = p.addr});
      announced_[id] = Announcement{.due = now + cfg_.add_addr_timeout};
      ++counters_.announces;
    }
  }
}

void PathManager::ScheduleRetry(Instant now, const Pair& p) {
  Retry& r = retries_[p];
  std::int64_t delay = cfg_.retry_first.micros;
  for (int i = 0; i < r.failures && delay < cfg_.retry_max.micros; ++i) delay *= 2;
  r.due = now + Duration{std::min(delay, cfg_.retry_max.micros)};
  ++r.failures;
}

void PathManager::OnEstablished(Instant now, SubflowId first, std::uint8_t local_id, const Endpoint& remote) {
  established_ = true;
  first_local_ = local_id;
  remotes_[0] = RemoteAddr{0, remote};
  const LocalPath* p = Path(local_id);
  subflows_[first] = Sub{local_id, 0, p != nullptr && p->backup};
  Refresh(now);
}

void PathManager::OnAddAddr(Instant now, const RemoteAddr& addr) {
  // Every ADD_ADDR is echoed, repeats included: the echo may have been lost (RFC 8684 3.4.1).
  actions_.push_back(PmAction{.kind = PmActionKind::kEchoAddAddr, .remote_id = addr.id, .remote = addr.addr});
  auto it = remotes_.find(addr.id);
  if (it != remotes_.end()) {
    it->second.addr = addr.addr;
    return;
  }
  if (remotes_.size() - (remotes_.count(0) != 0 ? 1 : 0) >= cfg_.max_add_addr_accepted) {
    ++counters_.add_addr_ignored;
    return;
  }
  remotes_[addr.id] = addr;
  Refresh(now);
}

void PathManager::OnAddAddrEcho(std::uint8_t local_id) {
  auto it = announced_.find(local_id);
  if (it != announced_.end()) it->second.echoed = true;
}

void PathManager::OnRemoveAddr(Instant now, std::uint8_t remote_id) {
  if (remote_id == 0 || remotes_.erase(remote_id) == 0) return;
  for (const auto& [id, s] : subflows_) {
    if (s.remote_id == remote_id) actions_.push_back(PmAction{.kind = PmActionKind::kCloseSubflow, .subflow = id});
  }
  std::erase_if(pending_, [&](const auto& kv) { return kv.first.second == remote_id; });
  std::erase_if(retries_, [&](const auto& kv) { return kv.first.second == remote_id; });
  Refresh(now);
}

JoinDecision PathManager::OnJoinRequest(std::uint8_t local_id) {
  const LocalPath* p = Path(local_id);
  JoinDecision d = JoinDecision::kAccept;
  if (p != nullptr && !p->up) {
    d = JoinDecision::kRejectPathDown;
  } else if ((subflows_.empty() ? 0 : subflows_.size() - 1) + pending_.size() >= cfg_.max_subflows) {
    d = JoinDecision::kRejectLimit;
  }
  ++(d == JoinDecision::kAccept ? counters_.joins_accepted : counters_.joins_rejected);
  return d;
}

void PathManager::OnSubflowEstablished(Instant now, SubflowId id, std::uint8_t local_id, std::uint8_t remote_id,
                                       bool backup) {
  subflows_[id] = Sub{local_id, remote_id, backup};
  pending_.erase({local_id, remote_id});
  retries_.erase({local_id, remote_id});
  // The path's flag may have flipped while the subflow was being opened.
  const LocalPath* p = Path(local_id);
  if (p != nullptr && p->backup != backup) SetBackup(now, local_id, p->backup);
}

void PathManager::OnSubflowCreateFailed(Instant now, std::uint8_t local_id, std::uint8_t remote_id) {
  pending_.erase({local_id, remote_id});
  ScheduleRetry(now, {local_id, remote_id});
}

void PathManager::OnSubflowClosed(Instant now, SubflowId id) {
  auto it = subflows_.find(id);
  if (it == subflows_.end()) return;
  const Pair pair{it->second.local_id, it->second.remote_id};
  subflows_.erase(it);
  const auto want = Wanted();
  // Lost while still wanted (its path up): open it again after a backoff.
  if (std::find(want.begin(), want.end(), pair) != want.end()) ScheduleRetry(now, pair);
}

void PathManager::OnPathChange(Instant now, std::uint8_t local_id, bool up) {
  auto it = paths_.find(local_id);
  if (it == paths_.end() || it->second.up == up) return;
  it->second.up = up;
  if (!up) {
    for (const auto& [id, s] : subflows_) {
      if (s.local_id == local_id) actions_.push_back(PmAction{.kind = PmActionKind::kCloseSubflow, .subflow = id});
    }
    std::erase_if(pending_, [&](const auto& kv) { return kv.first.first == local_id; });
    if (announced_.erase(local_id) != 0) {
      actions_.push_back(PmAction{.kind = PmActionKind::kRemoveAddr, .local_id = local_id, .local = it->second.addr});
    }
  }
  // Back up: no backoff for its subflows; they (and its announcement) come back at once.
  if (up) std::erase_if(retries_, [&](const auto& kv) { return kv.first.first == local_id; });
  if (up) {
    for (const Pair& p : Wanted()) {
      if (p.first == local_id && !HasSubflow(p)) retries_[p] = Retry{now, 0};  // counts as a re-creation
    }
  }
  Refresh(now);
}

void PathManager::SetBackup(Instant /*now*/, std::uint8_t local_id, bool backup) {
  auto it = paths_.find(local_id);
  if (it != paths_.end()) it->second.backup = backup;
  for (auto& [id, s] : subflows_) {
    if (s.local_id != local_id || s.backup == backup) continue;
    s.backup = backup;
    actions_.push_back(PmAction{.kind = PmActionKind::kSetPrio, .local_id = local_id, .subflow = id, .backup = backup});
    ++counters_.prio_changes;
  }
}

void PathManager::Tick(Instant now) {
  for (auto& [id, a] : announced_) {
    if (a.echoed || a.repeats >= cfg_.add_addr_retrans || a.due > now) continue;
    const LocalPath* p = Path(id);
    actions_.push_back(PmAction{.kind = PmActionKind::kAnnounce, .local_id = id, .local = p->addr});
    ++a.repeats;
    a.due = now + cfg_.add_addr_timeout;
    ++counters_.announce_repeats;
  }
  Refresh(now);
}

Instant PathManager::NextDeadline() const {
  Instant next{std::numeric_limits<std::int64_t>::max()};
  for (const auto& [id, a] : announced_) {
    if (!a.echoed && a.repeats < cfg_.add_addr_retrans) next = std::min(next, a.due);
  }
  for (const Pair& p : Wanted()) {
    auto r = retries_.find(p);
    if (r != retries_.end() && !HasSubflow(p) && pending_.count(p) == 0) next = std::min(next, r->second.due);
  }
  return next;
}

std::vector<PmSubflowView> PathManager::Subflows() const {
  std::vector<PmSubflowView> v;
  for (const auto& [id, s] : subflows_) v.push_back(PmSubflowView{id, s.local_id, s.remote_id, s.backup});
  return v;
}

}  // namespace braid::ustack::mptcp
