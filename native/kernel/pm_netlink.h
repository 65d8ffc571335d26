#pragma once
// Kernel MPTCP in-kernel path manager over generic netlink (family "mptcp_pm").
//
// Plain C++, no N-API: the addon wraps it and the unit tests link it directly.
// Errors are thrown as PmError (errno + the netlink command that failed + the kernel's
// extended-ack text when it sent one). Every request asks for an ACK, so a call that
// returns did succeed.
//
// A netlink socket belongs to the network namespace that was current for the calling
// thread when the socket was opened: construct PmNetlink in the namespace you mean to
// manage. Not thread-safe; use one instance per thread.
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel/netlink_socket.h"

struct mnl_socket;
struct nlmsghdr;

namespace braid::kernel {

// Endpoint flags as the kernel spells them (MPTCP_PM_ADDR_FLAG_*, uapi linux/mptcp.h).
inline constexpr uint32_t kPmFlagSignal = 1u << 0;
inline constexpr uint32_t kPmFlagSubflow = 1u << 1;
inline constexpr uint32_t kPmFlagBackup = 1u << 2;
inline constexpr uint32_t kPmFlagFullmesh = 1u << 3;
inline constexpr uint32_t kPmFlagImplicit = 1u << 4;  // created by the kernel, not by a user

struct PmEndpoint {
  uint8_t id = 0;                  // 1..255; 0 lets the kernel choose on add
  int family = AF_INET;            // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
  uint16_t port = 0;               // host order, 0 = none
  uint32_t flags = 0;              // kPmFlag*
  int32_t ifindex = 0;             // 0 = not bound to a device
};

// Numeric IPv4/IPv6 text <-> PmEndpoint family+addr. Parse returns false on bad text.
bool PmParseAddress(const std::string& text, PmEndpoint* ep);
std::string PmFormatAddress(const PmEndpoint& ep);

struct PmLimits {
  uint32_t subflows = 0;
  uint32_t add_addr_accepted = 0;
};

using PmError = NetlinkError;

// One end of a subflow as the userspace path manager names it.
struct PmAddress {
  int family = AF_INET;
  std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
  uint16_t port = 0;               // host order, 0 = any
  bool operator==(const PmAddress&) const = default;
};

class PmNetlink {
 public:
  // Opens a generic netlink socket in the calling thread's netns and resolves "mptcp_pm".
  PmNetlink();
  ~PmNetlink();
  PmNetlink(const PmNetlink&) = delete;
  PmNetlink& operator=(const PmNetlink&) = delete;

  std::vector<PmEndpoint> ListEndpoints();  // MPTCP_PM_CMD_GET_ADDR dump
  void AddEndpoint(const PmEndpoint& ep);   // MPTCP_PM_CMD_ADD_ADDR
  void DeleteEndpoint(uint8_t id);          // MPTCP_PM_CMD_DEL_ADDR
  // MPTCP_PM_CMD_SET_FLAGS by id. The in-kernel PM changes only backup and fullmesh;
  // it ignores the other bits.
  void SetFlags(uint8_t id, uint32_t flags);
  PmLimits GetLimits();                    // MPTCP_PM_CMD_GET_LIMITS
  void SetLimits(const PmLimits& limits);  // MPTCP_PM_CMD_SET_LIMITS

  // The userspace path manager's per-connection commands (net.mptcp.path_manager=userspace).
  // MPTCP_PM_CMD_ANNOUNCE: ADD_ADDR of `local` (id 1..255) on connection `token`.
  void Announce(uint32_t token, uint8_t id, const PmAddress& local);
  // MPTCP_PM_CMD_SUBFLOW_CREATE: a subflow from `local` (bound to ifindex when non-zero; id names
  // the address towards the peer) to `remote`.
  void CreateSubflow(uint32_t token, uint8_t id, const PmAddress& local, int32_t ifindex, bool backup,
                     const PmAddress& remote);
  // MPTCP_PM_CMD_SUBFLOW_DESTROY: the subflow with exactly these two ends (ports required).
  void DestroySubflow(uint32_t token, const PmAddress& local, const PmAddress& remote);
  // MPTCP_PM_CMD_SET_FLAGS with a token: MP_PRIO for the subflow from `local` (with its port).
  void SetSubflowBackup(uint32_t token, const PmAddress& local, const PmAddress& remote, bool backup);

  void Close();                            // idempotent; later calls throw PmError(EBADF)
  bool closed() const { return sock_.closed(); }

 private:
  nlmsghdr* StartRequest(char* buf, uint16_t type, uint8_t cmd, uint8_t version, uint16_t flags);
  void PutAddress(nlmsghdr* nlh, uint16_t attr, const PmAddress& a, int id, uint32_t flags, int32_t ifindex);

  NetlinkSocket sock_;
  uint16_t family_ = 0;
};

}  // namespace braid::kernel
