// Where braid-ustack meets mptcp::MptcpStack's path API: the per-interface path options and the
// scheduler from the command line, link changes, and the per-subflow figures of a connection's
// JSON line. Kept apart so the rest of the tool sees only plain structs (tools/ustack_app.h).
#pragma once

#include <cstddef>
#include <vector>

#include "ustack/mptcp/mptcp_stack.h"
#include "ustack/tools/ustack_app.h"
#include "ustack/tools/ustack_args.h"

namespace braid::ustack::tools {

mptcp::MptcpStackConfig MptcpConfigFrom(const Args& args);
// Interface `iface`'s link went down (up = false) or came back.
void SetPathUp(mptcp::MptcpStack& mp, Instant now, std::size_t iface, bool up);
std::vector<SubflowReport> SubflowReports(const mptcp::MptcpStack& mp, SocketId id);

}  // namespace braid::ustack::tools
