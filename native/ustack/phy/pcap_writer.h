// Captures to the classic pcap format (LINKTYPE_ETHERNET, microsecond stamps) that tshark,
// Wireshark and tcpdump read. PcapFile writes records; PcapWriter wraps any Device and records
// every frame received from it and every frame it accepted for transmission.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "ustack/phy/device.h"
#include "ustack/wire/instant.h"

namespace braid::ustack {

class PcapFile {
 public:
  // Creates (truncates) `path` and writes the file header. Throws std::system_error naming the
  // path when it cannot. `epoch_micros` is added to every Instant, so simulated time starting at
  // zero can be shown as wall-clock time.
  explicit PcapFile(const std::string& path, std::int64_t epoch_micros = 0, std::uint32_t snaplen = 65535);
  ~PcapFile();
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  // Appends one record (cut to snaplen). Write errors are sticky: see ok().
  void Write(Instant at, std::span<const std::uint8_t> frame);
  void Flush();
  bool ok() const { return ok_; }

 private:
  std::FILE* f_ = nullptr;
  std::int64_t epoch_micros_;
  std::uint32_t snaplen_;
  bool ok_ = true;
};

class PcapWriter : public Device {
 public:
  // `inner` must outlive the writer.
  PcapWriter(Device& inner, const std::string& path, std::int64_t epoch_micros = 0);
  MacAddress mac() const override { return inner_.mac(); }
  DeviceCapabilities capabilities() const override { return inner_.capabilities(); }
  std::size_t Receive(Instant now, std::size_t max,
                      const std::function<void(std::span<const std::uint8_t>)>& on_frame) override;
  bool Transmit(Instant now, std::span<const std::uint8_t> frame) override;
  void Flush(Instant now) override { inner_.Flush(now); }
  PcapFile& file() { return file_; }

 private:
  Device& inner_;
  PcapFile file_;
};

}  // namespace braid::ustack
