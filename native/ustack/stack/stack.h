// One lcore's whole stack: one or more Interfaces (each on its own Device: one NIC per MPTCP path)
// joined to one TcpTable, plus the application API. A segment leaves through the interface that
// owns its local address (the first one for any other), so a connection opened from an address
// (ConnectFrom) stays on that interface's path. Sans-IO: Poll(now) reads frames (device -> iface -> tcp), then lets TCP emit (tcp -> iface ->
// device); NextDeadline() says when Poll next has timer work. It never reads a clock, sleeps or
// blocks; the caller (a DPDK lcore loop, a simulation) owns time and the device. Single-threaded by
// design: one Stack per lcore, no locks.
//
// The application API is non-blocking, socket-like, and names sockets by SocketId:
//   Listen / Accept / Connect / Send / Recv / Shutdown / Close / Abort, readiness bits per socket
//   (Readiness) and readiness changes since the last call (DrainEvents);
//   zero-copy: SendBuffer hands the stack a TcpBuffer (heap- or mbuf-backed) to transmit from without
//   a copy; RecvPeek / RecvConsume read in place from the receive buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "ustack/iface/interface.h"
#include "ustack/phy/device.h"
#include "ustack/stack/socket_api.h"
#include "ustack/tcp/isn.h"
#include "ustack/tcp/tcp_config.h"
#include "ustack/tcp/tcp_table.h"
#include "ustack/wire/instant.h"

namespace braid::ustack {

struct StackConfig {
  InterfaceConfig iface;
  // tcp.mss is lowered to fit the device MTU (MTU - 40 for IPv4; IPv6 takes 20 less).
  TcpConfig tcp;
  std::size_t rx_budget = 64;  // frames read per Poll
};

struct StackPollResult {
  std::size_t frames_in = 0;     // frames read from the device
  std::size_t segments_out = 0;  // TCP segments handed to the interface
  bool device_full = false;      // the device refused a frame; TCP offers it again next Poll
  bool busy() const { return frames_in != 0 || segments_out != 0; }
};

class Stack : public SocketApi {
 public:
  // `device` must outlive the stack. It carries interface 0, configured by config.iface.
  Stack(Device& device, StackConfig config, IsnGenerator isn);
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Adds interface `index` = interface_count() on `device` (which must outlive the stack). Throws
  // std::invalid_argument when its MTU is below the first device's (TCP's MSS fits the first) or
  // when it shares an address with an interface already added.
  std::size_t AddInterface(Device& device, const InterfaceConfig& config);
  std::size_t interface_count() const { return ifaces_.size(); }

  // ---- driver side (sans-IO) ----
  // Reads up to rx_budget frames at `now` (ARP/ND/ICMP answered, TCP segments processed), then fires
  // due TCP timers, sends every segment that may go, and flushes the device's transmit batch.
  StackPollResult Poll(Instant now);
  // Poll in two halves, for a layer that works between them (MPTCP moves subflow bytes after the
  // input so that the ACKs of the output carry the newest DATA_ACK): Input reads frames, Output
  // fires timers, sends and flushes. Poll(now) is Input(now) then Output(now).
  StackPollResult Input(Instant now);
  void Output(Instant now, StackPollResult& r);
  // The earliest time Poll has timer work (TCP or neighbour probes); a time not after the last
  // Poll's `now` when output is waiting; nullopt when only new frames can wake the stack.
  std::optional<Instant> NextDeadline() const;

  // ---- application side ----
  // Listens on `local` (port required); an all-zero address (Endpoint{}) listens on every address
  // of both families.
  OpenResult Listen(const Endpoint& local, int backlog = 0) override;
  // Active open to `remote`, from this interface's address of the same family. local_port 0 picks
  // an ephemeral port. kInvalidArgument when the interface has no address of that family.
  OpenResult Connect(Instant now, const Endpoint& remote, std::uint16_t local_port = 0) override;
  // Active open from `local`, which must be an address of one of the interfaces (kInvalidArgument
  // otherwise): the connection's segments leave through that interface.
  OpenResult ConnectFrom(Instant now, const IpAddress& local, const Endpoint& remote, std::uint16_t local_port = 0);
  // The next established connection of `listener`, or kNoSocket (wait for kTcpAcceptable).
  SocketId Accept(SocketId listener) override;
  // Copies into the send buffer; kWouldBlock when it is full (wait for kTcpWritable).
  IoResult Send(SocketId id, std::span<const std::uint8_t> data) override;
  // Zero-copy send: the stack takes `buffer` whole (it becomes null) or not at all (kWouldBlock).
  TcpError SendBuffer(SocketId id, TcpBufferPtr& buffer) override;
  // Copies out received bytes; {0, kOk} is end of stream, kWouldBlock is "nothing yet".
  IoResult Recv(SocketId id, std::span<std::uint8_t> out) override;
  // Zero-copy receive: the contiguous readable bytes, valid until the next call into the stack;
  // then RecvConsume(n) releases the first n of them (and may open the window).
  std::span<const std::uint8_t> RecvPeek(SocketId id) override;
  void RecvConsume(SocketId id, std::size_t n) override;
  // Half-close: a FIN follows the queued data.
  TcpError Shutdown(SocketId id) override;
  // Done with the socket: a connection closes gracefully (RST if unread data remains, as Linux); a
  // listener stops and resets its unaccepted connections. The id is invalid afterwards.
  TcpError Close(SocketId id) override;
  // RST now (connections only).
  TcpError Abort(SocketId id) override;
  // Current readiness bits (TcpReadiness); kTcpHangup for an id the stack no longer knows.
  std::uint32_t Readiness(SocketId id);
  // The connection's error (kOk while healthy), kNotConnected for an unknown id.
  TcpError Error(SocketId id);
  SocketStatus Status(SocketId id) override;
  // Readiness changes since the last call (edge-reported), for held connections and listeners.
  void DrainEvents(const std::function<void(SocketId, std::uint32_t readiness)>& on_event) override;

  // ---- parts, for introspection and tests ----
  Interface& iface(std::size_t index = 0) { return *ifaces_.at(index).iface; }
  const InterfaceConfig& iface_config(std::size_t index = 0) const { return ifaces_.at(index).config; }
  // The interface that owns `ip` (its IPv4, IPv6 or link-local address), if any.
  std::optional<std::size_t> InterfaceOf(const IpAddress& ip) const;
  TcpTable& tcp() { return tcp_; }
  TcpConnection* connection(SocketId id) { return tcp_.Get(id); }

 private:
  static TcpConfig FitToDevice(TcpConfig tcp, const Device& device);

  struct Port {
    Device* device;
    InterfaceConfig config;
    std::unique_ptr<Interface> iface;
  };
  // The interface a segment leaves by: the one its connection is tied to (see ties_), else the one
  // owning its local address, else the first.
  Port& PortFor(const FourTuple& tuple);
  void OnSegment(std::size_t index, Instant now, const FourTuple& tuple, const TcpRepr& seg);
  std::optional<IpAddress> LocalFor(const Port& port, const IpAddress& remote) const;

  StackConfig cfg_;
  std::vector<Port> ifaces_;
  TcpTable tcp_;
  // Connections a peer opened to one of our addresses over another interface's link (a subflow bound
  // to that path on the peer's side): their segments go back over the same link, as Linux answers
  // on the route the peer chose. Forgotten once the table no longer has the connection.
  std::unordered_map<FourTuple, std::size_t, FourTupleHash> ties_;
  std::size_t ties_checked_at_ = 0;  // ties_.size() after the last sweep
  Instant last_poll_{};
};

}  // namespace braid::ustack
