#include "ustack/phy/dpdk_port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace braid::ustack {
namespace {

constexpr std::uint16_t kBurst = 32;

[[noreturn]] void Fail(const std::string& port, const char* call, int rc) {
  throw std::runtime_error("dpdk port " + port + ": " + call + " failed: " + rte_strerror(rc < 0 ? -rc : rc));
}

}  // namespace

DpdkPort::DpdkPort(Eal&, const DpdkPortOptions& o) : name_(o.name) {
  if (rte_eth_dev_get_port_by_name(o.name.c_str(), &port_) != 0) {
    throw std::runtime_error("dpdk port " + o.name + ": no such ethdev (is there a --vdev " + o.name + ",...?)");
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_, &info); rc != 0) Fail(name_, "rte_eth_dev_info_get", rc);
  driver_ = info.driver_name != nullptr ? info.driver_name : "";
  const int socket = std::max(0, rte_eth_dev_socket_id(port_));

  const std::string pool_name = "braid_rx_" + std::to_string(port_);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), o.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool_ == nullptr) Fail(name_, "rte_pktmbuf_pool_create", rte_errno);

  rte_eth_conf conf{};  // no offloads requested: see the header
  if (int rc = rte_eth_dev_configure(port_, 1, 1, &conf); rc != 0) Fail(name_, "rte_eth_dev_configure", rc);
  std::uint16_t rxd = o.rx_descriptors, txd = o.tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd); rc != 0) Fail(name_, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  if (int rc = rte_eth_rx_queue_setup(port_, 0, rxd, socket, nullptr, pool_); rc != 0) Fail(name_, "rte_eth_rx_queue_setup", rc);
  if (int rc = rte_eth_tx_queue_setup(port_, 0, txd, socket, nullptr); rc != 0) Fail(name_, "rte_eth_tx_queue_setup", rc);
  if (o.promiscuous) rte_eth_promiscuous_enable(port_);
  if (int rc = rte_eth_dev_start(port_); rc != 0) Fail(name_, "rte_eth_dev_start", rc);
  started_ = true;

  rte_ether_addr addr{};
  if (int rc = rte_eth_macaddr_get(port_, &addr); rc != 0) Fail(name_, "rte_eth_macaddr_get", rc);
  std::copy(std::begin(addr.addr_bytes), std::end(addr.addr_bytes), mac_.begin());
  std::uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(port_, &mtu) == 0) caps_.mtu = mtu;
  caps_.rx_checksum_verified = false;
  caps_.tx_checksum_offload = false;
}

DpdkPort::~DpdkPort() {
  Flush(Instant{});
  for (rte_mbuf* m : tx_batch_) rte_pktmbuf_free(m);
  if (started_) {
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
  }
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

std::size_t DpdkPort::Receive(Instant, std::size_t max,
                              const std::function<void(std::span<const std::uint8_t>)>& on_frame) {
  std::size_t total = 0;
  rte_mbuf* pkts[kBurst];
  while (total < max) {
    const auto want = static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, max - total));
    const std::uint16_t n = rte_eth_rx_burst(port_, 0, pkts, want);
    for (std::uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      if (m->nb_segs == 1) {
        on_frame({rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len});
      } else {
        scratch_.resize(m->pkt_len);
        const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, scratch_.data());
        on_frame({static_cast<const std::uint8_t*>(p), m->pkt_len});
      }
      rte_pktmbuf_free(m);
    }
    stats_.rx_frames += n;
    total += n;
    if (n < want) break;
  }
  return total;
}

bool DpdkPort::Transmit(Instant, std::span<const std::uint8_t> frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    ++stats_.tx_no_mbuf;
    return false;
  }
  char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(std::min<std::size_t>(frame.size(), UINT16_MAX)));
  if (p == nullptr || frame.size() > UINT16_MAX) {
    rte_pktmbuf_free(m);
    ++stats_.tx_too_long;
    return false;
  }
  std::memcpy(p, frame.data(), frame.size());
  if (tx_batch_.size() >= kBurst) Flush(Instant{});
  if (tx_batch_.size() >= kBurst) {  // the driver took none: its ring is full
    rte_pktmbuf_free(m);
    ++stats_.tx_full;
    return false;
  }
  tx_batch_.push_back(m);
  ++stats_.tx_frames;
  return true;
}

void DpdkPort::Flush(Instant) {
  if (tx_batch_.empty()) return;
  const std::uint16_t n = rte_eth_tx_burst(port_, 0, tx_batch_.data(), static_cast<std::uint16_t>(tx_batch_.size()));
  // What the driver did not take stays queued, in order, for the next Flush.
  tx_batch_.erase(tx_batch_.begin(), tx_batch_.begin() + n);
}

DpdkPortDriverStats DpdkPort::driver_stats() const {
  DpdkPortDriverStats out;
  rte_eth_stats st{};
  if (rte_eth_stats_get(port_, &st) == 0) {
    out.imissed = st.imissed;
    out.ierrors = st.ierrors;
    out.oerrors = st.oerrors;
    out.rx_nombuf = st.rx_nombuf;
  }
  return out;
}

bool DpdkPort::link_up() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

}  // namespace braid::ustack
