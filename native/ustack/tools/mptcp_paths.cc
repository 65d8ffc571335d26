#include "ustack/tools/mptcp_paths.h"

namespace braid::ustack::tools {

mptcp::MptcpStackConfig MptcpConfigFrom(const Args& args) {
  mptcp::MptcpStackConfig c;
  if (args.scheduler) c.msk.scheduler = *args.scheduler;
  c.subflow.checksum = args.mptcp_checksum;
  for (std::size_t i = 0; i < args.ports.size(); ++i) {
    c.paths.push_back(mptcp::PathOptions{.backup = args.backup[i], .signal = args.signal[i], .subflow = args.subflow[i]});
  }
  return c;
}

void SetPathUp(mptcp::MptcpStack& mp, Instant now, std::size_t iface, bool up) { mp.SetPathUp(now, iface, up); }

std::vector<SubflowReport> SubflowReports(const mptcp::MptcpStack& mp, SocketId id) {
  std::vector<SubflowReport> out;
  for (const mptcp::SubflowInfo& s : mp.subflows(id)) {
    out.push_back(SubflowReport{.id = s.id, .local = s.local, .remote = s.remote, .local_id = s.local_id,
                                .remote_id = s.remote_id, .backup = s.backup, .established = s.established,
                                .bytes_sent = s.bytes_sent, .bytes_received = s.bytes_received});
  }
  return out;
}

}  // namespace braid::ustack::tools
