#include "ustack/mptcp/integrity.h"

namespace braid::ustack::mptcp {

const char* IntegrityCounterName(IntegrityCounter c) {
  switch (c) {
#define BRAID_MPTCP_INTEGRITY_NAME(name, help) \
  case IntegrityCounter::k##name:              \
    return #name;
    BRAID_MPTCP_INTEGRITY_COUNTERS(BRAID_MPTCP_INTEGRITY_NAME)
#undef BRAID_MPTCP_INTEGRITY_NAME
    default:
      return "?";
  }
}

const char* IntegrityCounterHelp(IntegrityCounter c) {
  switch (c) {
#define BRAID_MPTCP_INTEGRITY_HELP(name, help) \
  case IntegrityCounter::k##name:              \
    return help;
    BRAID_MPTCP_INTEGRITY_COUNTERS(BRAID_MPTCP_INTEGRITY_HELP)
#undef BRAID_MPTCP_INTEGRITY_HELP
    default:
      return "?";
  }
}

}  // namespace braid::ustack::mptcp
