#include "ustack/tools/mptcp_paths.h"

namespace braid::ustack::tools {

mptcp::MptcpStackConfig MptcpConfigFrom(const Args& args) {
  mptcp::MptcpStackConfig c;
  if (args.scheduler) c.msk.scheduler = *args.scheduler;
  return c;
}

void SetPathUp(mptcp::MptcpStack&, Instant, std::size_t, bool) {}

std::vector<SubflowReport> SubflowReports(const mptcp::MptcpStack&, SocketId) { return {}; }

}  // namespace braid::ustack::tools
