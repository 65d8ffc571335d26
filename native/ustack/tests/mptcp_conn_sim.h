// Deterministic simulation for the MPTCP connection level: two Msks joined by simulated subflows.
// Each subflow is modelled as TCP gives it to MPTCP: an ordered, reliable byte pipe per direction
// with a one-way delay, a rate, a congestion window (bytes in flight) and loss that the subflow
// repairs itself (a lost segment arrives a repair time late and holds back those behind it). Pure
// ACKs carry the subflow ACK, the DATA_ACK and the window; a DATA_FIN alone rides a pure ACK and so
// may be lost for good. A subflow can fail (everything in flight on it is gone) and new ones can be
// added. The clock jumps to the next event; no threads, no real time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "ustack/mptcp/msk.h"
#include "ustack/tcp/seq.h"
#include "ustack/tests/tcp_sim.h"

namespace braid::ustack::mptcp::sim {

using ustack::sim::Rng;

struct PipeConfig {
  Duration delay = Duration::Millis(5);
  std::uint64_t rate_bytes_per_sec = 50'000'000;
  double loss = 0;                 // per segment; data is repaired, a DATA_FIN alone is lost
  Duration repair = Duration::Millis(30);
  std::uint32_t cwnd = 64 * 1024;  // bytes in flight
  std::uint32_t mss = 1400;
};

class MskSim {
 public:
  static constexpr int kA = 0;
  static constexpr int kB = 1;

  MskSim(const MskConfig& cfg_a, const MskConfig& cfg_b, std::uint64_t seed)
      : rng_(seed), end_{End(cfg_a, 0x1111'2222'3333ull, 0xfedc'ba98'7654'3210ull),
                          End(cfg_b, 0xfedc'ba98'7654'3210ull, 0x1111'2222'3333ull)} {}

  Msk& msk(int e) { return end_[e].msk; }
  Instant now() const { return now_; }

  void AddSubflow(SubflowId id, const PipeConfig& cfg, bool backup = false) {
    Subflow sf;
    sf.cfg = cfg;
    sf.backup = backup;
    subflows_[id] = sf;
    for (int e : {kA, kB}) end_[e].msk.AddSubflow(id, Params(sf, e));
  }
  void FailSubflow(SubflowId id) {
    auto it = subflows_.find(id);
    if (it == subflows_.end() || !it->second.alive) return;
    it->second.alive = false;
    for (auto& d : it->second.dir) d = Direction{};
    for (int e : {kA, kB}) end_[e].msk.RemoveSubflow(id);
  }
  // Bytes end e sent on subflow id that its subflow has not acknowledged yet.
  std::uint32_t in_flight(SubflowId id, int e) const { return subflows_.at(id).dir[e].snd_nxt - subflows_.at(id).dir[e].snd_una; }
  // Data segments end e sent on subflow id that have not arrived yet.
  std::size_t in_transit(SubflowId id, int e) const { return subflows_.at(id).dir[e].data.size(); }
  // Bytes that arrived on subflow id from end e that the peer's connection has not taken (no mapping).
  std::size_t unmapped(SubflowId id, int e) const { return subflows_.at(id).dir[e].rxbuf.size(); }
  void SetBackup(SubflowId id, bool backup) { subflows_.at(id).backup = backup; }
  bool alive(SubflowId id) const { return subflows_.count(id) != 0 && subflows_.at(id).alive; }
  // Data bytes end e put on subflow id (copies and repeats included).
  std::uint64_t carried(SubflowId id, int e) const { return subflows_.at(id).dir[e].bytes; }

  // What each end's application sends (then DATA_FIN) and when it shuts down.
  void SetSource(int e, std::vector<std::uint8_t> data, bool shutdown_when_done = true) {
    end_[e].source = std::move(data);
    end_[e].shutdown_when_done = shutdown_when_done;
  }
  void AppendSource(int e, const std::vector<std::uint8_t>& more) {
    end_[e].source.insert(end_[e].source.end(), more.begin(), more.end());
  }
  void Shutdown(int e) { end_[e].shutdown_when_done = true; }
  const std::vector<std::uint8_t>& sink(int e) const { return end_[e].sink; }
  bool fin_seen_early(int e) const { return end_[e].fin_seen_early; }

  // Runs until `until` returns true or the time limit; false on a stall (nothing left to happen).
  template <typename Pred>
  bool RunUntil(Pred until, Instant limit = Instant::FromMillis(600'000)) {
    for (int guard = 0; guard < 5'000'000; ++guard) {
      Deliver();
      for (int e : {kA, kB}) Pump(e);
      if (until()) return true;
      const Instant next = NextEvent();
      if (next.micros == std::numeric_limits<std::int64_t>::max() || next > limit) return false;
      now_ = std::max(now_, next);
    }
    return false;
  }
  bool Done() const {
    for (int e : {kA, kB}) {
      const End& me = end_[e];
      const End& peer = end_[1 - e];
      if (me.sink.size() != peer.source.size() || !me.msk.eof() || !me.msk.send_done()) return false;
    }
    return true;
  }

 private:
  struct Segment {
    Instant at;
    std::uint32_t ssn_end = 0;
    std::vector<std::uint8_t> data;
    std::optional<DssMapping> map;
  };
  struct Ack {
    Instant at;
    std::uint32_t sub_ack = 0;
    DataAck data_ack;
    std::uint32_t window = 0;
  };
  // One direction of one subflow: data (and DATA_FIN options) from its sender, ACKs back.
  struct Direction {
    std::deque<Segment> data;
    std::deque<Segment> options;  // DATA_FIN alone
    std::deque<Ack> acks;
    Instant link_free;
    Instant last_arrival;
    std::uint32_t snd_nxt = 1;
    std::uint32_t snd_una = 1;
    std::vector<std::uint8_t> rxbuf;  // received in order, not yet taken by the connection
    std::uint64_t bytes = 0;
  };
  struct Subflow {
    PipeConfig cfg;
    bool backup = false;
    bool alive = true;
    Direction dir[2];  // dir[e]: from end e to the other
  };
  struct End {
    End(const MskConfig& c, std::uint64_t l, std::uint64_t r) : msk(c, l, r) {}
    Msk msk;
    std::vector<std::uint8_t> source;
    std::size_t sent = 0;
    bool shutdown_when_done = true;
    bool shut = false;
    std::vector<std::uint8_t> sink;
    std::uint64_t adv_ack = 0;
    std::uint64_t adv_edge = 0;
    bool fin_seen_early = false;
  };

  SubflowParams Params(const Subflow& sf, int e) const {
    const Direction& d = sf.dir[e];
    const std::uint32_t inflight = d.snd_nxt - d.snd_una;
    return SubflowParams{.established = sf.alive,
                         .backup = sf.backup,
                         .srtt = Duration{2 * sf.cfg.delay.micros},
                         .send_space = inflight >= sf.cfg.cwnd ? 0 : sf.cfg.cwnd - inflight};
  }

  void SendAck(SubflowId id, Subflow& sf, int data_dir, std::uint32_t sub_ack) {
    const Msk& rx = end_[1 - data_dir].msk;
    sf.dir[data_dir].acks.push_back(Ack{now_ + sf.cfg.delay, sub_ack, rx.data_ack(), rx.receive_window()});
    (void)id;
  }

  void Deliver() {
    for (auto& [id, sf] : subflows_) {
      if (!sf.alive) continue;
      for (int e : {kA, kB}) {
        Direction& d = sf.dir[e];
        Msk& rx = end_[1 - e].msk;
        while (!d.data.empty() && d.data.front().at <= now_) {
          Segment s = std::move(d.data.front());
          d.data.pop_front();
          if (s.map) rx.OnMapping(id, *s.map);
          d.rxbuf.insert(d.rxbuf.end(), s.data.begin(), s.data.end());
          const std::size_t taken = rx.OnSubflowData(id, d.rxbuf);
          d.rxbuf.erase(d.rxbuf.begin(), d.rxbuf.begin() + static_cast<std::ptrdiff_t>(taken));
          SendAck(id, sf, e, s.ssn_end);
        }
        while (!d.options.empty() && d.options.front().at <= now_) {
          rx.OnMapping(id, *d.options.front().map);
          d.options.pop_front();
          SendAck(id, sf, e, d.snd_una);
        }
        while (!d.acks.empty() && d.acks.front().at <= now_) {
          const Ack a = d.acks.front();
          d.acks.pop_front();
          Msk& tx = end_[e].msk;
          if (SeqGt(a.sub_ack, d.snd_una)) d.snd_una = a.sub_ack;
          tx.OnDataAck(id, a.data_ack, a.window);
          tx.OnSubflowAcked(id, d.snd_una);
        }
      }
    }
  }

  void Pump(int e) {
    End& me = end_[e];
    Msk& m = me.msk;
    // Application: write what fits, shut down after the last byte, read everything.
    if (me.sent < me.source.size()) {
      me.sent += m.Send(std::span<const std::uint8_t>(me.source).subspan(me.sent));
    }
    if (me.sent == me.source.size() && me.shutdown_when_done && !me.shut) {
      m.Shutdown();
      me.shut = true;
    }
    std::uint8_t buf[65536];
    while (std::size_t n = m.Recv(buf)) me.sink.insert(me.sink.end(), buf, buf + n);
    if (m.peer_data_fin() && !m.eof() && me.sink.size() < end_[1 - e].source.size()) me.fin_seen_early = true;
    // Subflows: refresh, then send what the connection assigns.
    for (auto& [id, sf] : subflows_) {
      if (sf.alive) m.UpdateSubflow(id, Params(sf, e));
    }
    for (const Transmit& t : m.PollTransmit(now_)) {
      Subflow& sf = subflows_.at(t.subflow);
      Direction& d = sf.dir[e];
      if (t.mapping.length == 0) {
        if (rng_.Uniform() >= sf.cfg.loss) d.options.push_back(Segment{now_ + sf.cfg.delay, 0, {}, t.mapping});
        continue;
      }
      EXPECT_EQ(t.mapping.ssn, d.snd_nxt) << "mappings must follow the subflow's sequence space";
      for (std::size_t off = 0; off < t.data.size(); off += sf.cfg.mss) {
        const std::size_t len = std::min<std::size_t>(sf.cfg.mss, t.data.size() - off);
        Segment s;
        s.data.assign(t.data.begin() + static_cast<std::ptrdiff_t>(off), t.data.begin() + static_cast<std::ptrdiff_t>(off + len));
        s.map = t.mapping;  // every segment of the mapping repeats it, as Linux may
        d.snd_nxt += static_cast<std::uint32_t>(len);
        s.ssn_end = d.snd_nxt;
        const std::int64_t ser = static_cast<std::int64_t>(len * 1'000'000 / sf.cfg.rate_bytes_per_sec);
        d.link_free = std::max(d.link_free, now_) + Duration{ser};
        Instant at = d.link_free + sf.cfg.delay;
        if (rng_.Uniform() < sf.cfg.loss) at = at + sf.cfg.repair;
        s.at = std::max(at, d.last_arrival);
        d.last_arrival = s.at;
        d.bytes += len;
        d.data.push_back(std::move(s));
      }
    }
    // Window updates and DATA_ACK changes go out on a pure ACK (the first live subflow).
    const std::uint64_t ack = m.data_ack().ack;
    const std::uint64_t edge = ack + m.receive_window();
    if (ack != me.adv_ack || edge != me.adv_edge) {
      for (auto& [id, sf] : subflows_) {
        if (!sf.alive) continue;
        SendAck(id, sf, 1 - e, sf.dir[1 - e].snd_una);
        me.adv_ack = ack;
        me.adv_edge = edge;
        break;
      }
    }
  }

  Instant NextEvent() const {
    Instant next{std::numeric_limits<std::int64_t>::max()};
    for (const auto& [id, sf] : subflows_) {
      if (!sf.alive) continue;
      for (const Direction& d : sf.dir) {
        if (!d.data.empty()) next = std::min(next, d.data.front().at);
        if (!d.options.empty()) next = std::min(next, d.options.front().at);
        if (!d.acks.empty()) next = std::min(next, d.acks.front().at);
      }
    }
    for (const End& e : end_) next = std::min(next, e.msk.PollAt());
    return next;
  }

  Rng rng_;
  End end_[2];
  std::map<SubflowId, Subflow> subflows_;
  Instant now_;
};

}  // namespace braid::ustack::mptcp::sim
