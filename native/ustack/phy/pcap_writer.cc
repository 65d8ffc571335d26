#include "ustack/phy/pcap_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace braid::ustack {
namespace {

constexpr std::uint32_t kPcapMagicMicros = 0xa1b2c3d4;
constexpr std::uint32_t kLinkTypeEthernet = 1;

// pcap is written in host byte order (readers detect it from the magic); fields are little
// pieces, so write them one by one rather than rely on struct padding.
void Put32(std::uint8_t*& p, std::uint32_t v) {
  std::memcpy(p, &v, 4);
  p += 4;
}
void Put16(std::uint8_t*& p, std::uint16_t v) {
  std::memcpy(p, &v, 2);
  p += 2;
}

}  // namespace

PcapFile::PcapFile(const std::string& path, std::int64_t epoch_micros, std::uint32_t snaplen)
    : epoch_micros_(epoch_micros), snaplen_(snaplen) {
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr) throw std::system_error(errno, std::generic_category(), "pcap: cannot create " + path);
  std::uint8_t h[24];
  std::uint8_t* p = h;
  Put32(p, kPcapMagicMicros);
  Put16(p, 2);  // version 2.4
  Put16(p, 4);
  Put32(p, 0);  // thiszone
  Put32(p, 0);  // sigfigs
  Put32(p, snaplen_);
  Put32(p, kLinkTypeEthernet);
  if (std::fwrite(h, sizeof h, 1, f_) != 1) {
    const int err = errno;
    std::fclose(f_);
    throw std::system_error(err, std::generic_category(), "pcap: cannot write header to " + path);
  }
}

PcapFile::~PcapFile() {
  if (f_ != nullptr) std::fclose(f_);
}

void PcapFile::Write(Instant at, std::span<const std::uint8_t> frame) {
  if (!ok_) return;
  const std::int64_t t = at.micros + epoch_micros_;
  const auto caplen = static_cast<std::uint32_t>(std::min<std::size_t>(frame.size(), snaplen_));
  std::uint8_t h[16];
  std::uint8_t* p = h;
  Put32(p, static_cast<std::uint32_t>(t / 1'000'000));
  Put32(p, static_cast<std::uint32_t>(t % 1'000'000));
  Put32(p, caplen);
  Put32(p, static_cast<std::uint32_t>(frame.size()));
  ok_ = std::fwrite(h, sizeof h, 1, f_) == 1 && (caplen == 0 || std::fwrite(frame.data(), caplen, 1, f_) == 1);
}

void PcapFile::Flush() {
  if (std::fflush(f_) != 0) ok_ = false;
}

PcapWriter::PcapWriter(Device& inner, const std::string& path, std::int64_t epoch_micros)
    : inner_(inner), file_(path, epoch_micros) {}

std::size_t PcapWriter::Receive(Instant now, std::size_t max,
                                const std::function<void(std::span<const std::uint8_t>)>& on_frame) {
  return inner_.Receive(now, max, [&](std::span<const std::uint8_t> frame) {
    file_.Write(now, frame);
    on_frame(frame);
  });
}

bool PcapWriter::Transmit(Instant now, std::span<const std::uint8_t> frame) {
  if (!inner_.Transmit(now, frame)) return false;
  file_.Write(now, frame);
  return true;
}

}  // namespace braid::ustack
