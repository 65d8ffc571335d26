#include "relay/events.h"

namespace braid::relay {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kMptcp: return "mptcp";
    case Outcome::kFallback: return "fallback";
    case Outcome::kTcp: return "tcp";
    case Outcome::kError: return "error";
  }
  return "error";
}

const char* CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kDone: return "done";
    case CloseReason::kReset: return "reset";
    case CloseReason::kConnectError: return "connect-error";
    case CloseReason::kConnectTimeout: return "connect-timeout";
    case CloseReason::kIdleTimeout: return "idle-timeout";
    case CloseReason::kRefused: return "refused";
    case CloseReason::kAborted: return "aborted";
    case CloseReason::kFallbackDenied: return "fallback-denied";
  }
  return "aborted";
}

const char* ConnStateName(ConnState s) {
  switch (s) {
    case ConnState::kConnecting: return "connecting";
    case ConnState::kRelaying: return "relaying";
    case ConnState::kHalfClosed: return "half-closed";
  }
  return "relaying";
}

void EventQueue::Push(Event&& e) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = events_.empty();
    events_.push_back(std::move(e));
  }
  if (was_empty && notify_) notify_();
}

std::vector<Event> EventQueue::TakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

}  // namespace braid::relay
