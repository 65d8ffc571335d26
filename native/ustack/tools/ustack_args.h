// braid-ustack's command line (tools/braid_ustack_main.cc has the usage text). Interfaces are
// opened in order, one per DPDK port (one per MPTCP path): `--vdev SPEC` (an EAL vdev) or `--dev
// NAME` (a port the EAL already has, e.g. a PCI NIC) opens the next one, and the per-interface flags
// (--ip, --ip6, --gw, --gw6, --pcap) that follow it apply to it; those given before the first
// --vdev/--dev apply to interface 0. So the one-port form `--vdev X --ip A --pcap F` means what it
// always did. `--dev NAME` right after `--vdev NAME,...` names that same port (the old spelling).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ustack/mptcp/scheduler.h"
#include "ustack/phy/dpdk_eal.h"
#include "ustack/stack/stack.h"
#include "ustack/tools/ustack_app.h"

namespace braid::ustack::tools {

struct PortArgs {
  std::string dev;           // ethdev name (the --vdev name before the comma, or --dev)
  std::string kernel_iface;  // net_af_packet's iface=: the kernel netdev whose carrier is the link
  InterfaceConfig iface;
  std::string pcap;          // capture of this interface's frames, when set
};

struct Args {
  EalOptions eal;
  std::vector<PortArgs> ports;  // interface i on ports[i]; at least one
  StackConfig stack;            // its iface is ports[0].iface
  AppOptions app;
  bool busy_poll = false;
  bool wait_stdin = false;  // start the application only after a line on stdin
  bool zero_copy = false;   // source: send from mbuf-backed buffers (MbufBufferPool, SendBuffer)
  bool mptcp = false;       // MPTCP: clients offer it, servers accept it; both fall back to TCP
  bool mptcp_checksum = false;  // MPTCP: ask for DSS checksums (MP_CAPABLE A bit)
  // MPTCP path options, indexed by interface: --backup-path N flags interface N backup (MP_JOIN B
  // bit, MP_PRIO); --no-signal-path N: its address is not announced (ADD_ADDR); --no-subflow-path N:
  // no subflow is opened from it.
  std::vector<bool> backup;
  std::vector<bool> signal;
  std::vector<bool> subflow;
  std::optional<mptcp::SchedulerKind> scheduler;  // --scheduler minrtt|roundrobin|redundant
  std::uint32_t link_poll_ms = 100;               // --link-poll-ms: how often port links are read
};

// Parses argv; prints the problem and the usage to stderr and exits 2 on a bad command line.
Args ParseArgs(int argc, char** argv);

}  // namespace braid::ustack::tools
