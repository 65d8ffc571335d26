#include "ustack/phy/pcap_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "ustack/phy/memory_link.h"

namespace braid::ustack {
namespace {

std::uint32_t U32(const std::vector<std::uint8_t>& b, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

TEST(PhyPcapWriter, RecordsFramesBothWays) {
  const std::string path = ::testing::TempDir() + "/phy_pcap_" + std::to_string(::getpid()) + ".pcap";
  MemoryLink link(MemoryLink::Options{});
  {
    PcapWriter cap(link.a(), path, 1'700'000'000'000'000);
    EXPECT_EQ(cap.mac(), link.a().mac());
    const std::vector<std::uint8_t> out(60, 0xaa), in(70, 0xbb);
    EXPECT_TRUE(cap.Transmit(Instant{1'500'000}, out));
    link.b().Transmit(Instant{}, in);
    std::size_t seen = 0;
    cap.Receive(Instant{2'000'001}, 10, [&](std::span<const std::uint8_t> f) { seen = f.size(); });
    EXPECT_EQ(seen, 70u);
    EXPECT_TRUE(cap.file().ok());
  }
  std::ifstream f(path, std::ios::binary);
  std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  ASSERT_EQ(b.size(), 24u + 16 + 60 + 16 + 70);
  EXPECT_EQ(U32(b, 0), 0xa1b2c3d4u);
  EXPECT_EQ(U32(b, 20), 1u);  // Ethernet
  EXPECT_EQ(U32(b, 24), 1'700'000'001u);
  EXPECT_EQ(U32(b, 28), 500'000u);
  EXPECT_EQ(U32(b, 32), 60u);
  EXPECT_EQ(b[40], 0xaa);
  EXPECT_EQ(U32(b, 100), 1'700'000'002u);
  EXPECT_EQ(U32(b, 104), 1u);
  EXPECT_EQ(U32(b, 108), 70u);
  EXPECT_EQ(b[116], 0xbb);
}

TEST(PhyPcapWriter, NamesThePathItCannotCreate) {
  try {
    PcapFile f("/nonexistent-dir/x.pcap");
    FAIL() << "no error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.pcap"), std::string::npos);
  }
}

}  // namespace
}  // namespace braid::ustack
