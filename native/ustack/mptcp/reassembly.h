// The connection-level receive buffer (RFC 8684 sections 3.3 and 3.3.5): bytes from every subflow
// placed by 64-bit DSN, out of order across subflows, duplicates (reinjected data, repeated
// mappings) dropped, and the DATA_FIN ordered after every byte before it. Its free space is the
// shared receive window all subflows advertise, relative to the DATA_ACK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <map>

#include "ustack/tcp/ring_buffer.h"

namespace braid::ustack::mptcp {

class Reassembly {
 public:
  // Out-of-order ranges tracked at once. Unlike a subflow, the connection level cannot drop data
  // in its window and count on a retransmission (the subflow acknowledged it), so the limit is far
  // above what real traffic makes (Linux bounds its out-of-order rbtree by memory only); reaching
  // it means a peer that cuts its data into tiny interleaved pieces.
  static constexpr std::size_t kMaxRanges = 16384;

  // Where each received byte went (sums to the input's size).
  struct Placed {
    std::uint32_t fresh = 0;      // new bytes stored
    std::uint32_t duplicate = 0;  // already received (below DATA_ACK or already held)
    std::uint32_t beyond = 0;     // past the window's right edge or past the DATA_FIN: dropped
    std::uint32_t no_room = 0;    // would open one hole too many (kMaxRanges): dropped
  };

  // `capacity` is the receive buffer (and so the largest window); `rcv_nxt` the first DSN expected
  // (the peer's IDSN + 1).
  Reassembly(std::size_t capacity, std::uint64_t rcv_nxt);

  Placed Insert(std::uint64_t dsn, std::span<const std::uint8_t> data);
  // The peer's DATA_FIN occupies `dsn`. False (ignored) when it contradicts an earlier DATA_FIN or
  // data already received past it.
  bool SetDataFin(std::uint64_t dsn);

  // The DATA_ACK to send: the next DSN expected, past the DATA_FIN once that is in order.
  std::uint64_t rcv_nxt() const { return rcv_nxt_; }
  // The receive window: bytes from rcv_nxt() to the right edge (never moves left).
  std::uint32_t window() const;
  std::uint64_t right_edge() const { return rcv_nxt_ + window(); }
  // True when the DATA_FIN and every byte before it arrived (the application reads EOF after the
  // readable bytes).
  bool fin_reached() const { return fin_reached_; }
  std::optional<std::uint64_t> data_fin() const { return data_fin_; }

  std::size_t readable() const { return ring_.len(); }
  std::span<const std::uint8_t> Peek() const { return ring_.PeekContiguous(); }
  void Consume(std::size_t n) { ring_.Dequeue(n); }
  std::size_t Read(std::span<std::uint8_t> out) { return ring_.Read(out); }

 private:
  // Records [begin, end); returns the bytes that were new, or nullopt when over kMaxRanges.
  std::optional<std::uint64_t> AddRange(std::uint64_t begin, std::uint64_t end);
  void Promote();

  RingBuffer ring_;
  // Received past rcv_nxt_: begin -> end, disjoint, as offsets from base_ (the first DSN expected),
  // which never wrap: plain `<` is right for them.
  std::map<std::uint64_t, std::uint64_t> ooo_;
  std::uint64_t base_;
  std::uint64_t rcv_nxt_;
  std::uint64_t highest_ = 0;  // one past the highest DSN received (meaningful when any_ is set)
  bool any_ = false;
  std::optional<std::uint64_t> data_fin_;
  bool fin_reached_ = false;
};

}  // namespace braid::ustack::mptcp
