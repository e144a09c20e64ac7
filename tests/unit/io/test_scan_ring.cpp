// The packet ring's size: what can be checked without CAP_NET_RAW.
#include <catch2/catch.hpp>

#include <cstring>

#include "tcpkit/io/scan_ring.hpp"

using namespace tcpkit;

TEST_CASE("the receive ring holds about 20 ms of replies, within 512 KiB and 2 MiB") {
  auto bytes = [](const RingOptions& o) { return uint64_t(o.block_size) * o.block_count; };
  CHECK(bytes(ring_for_rate(0)) == 512 * 1024);
  CHECK(bytes(ring_for_rate(10'000)) == 512 * 1024);  // the default rate: the floor of 16 blocks
  CHECK(bytes(ring_for_rate(100'000)) == 512 * 1024);
  CHECK(ring_for_rate(400'000).block_count == 40);     // 400k/s x 20 ms x 160 B = 1.28 MB
  CHECK(bytes(ring_for_rate(10'000'000)) == 2 * 1024 * 1024);
  const auto o = ring_for_rate(600'000);
  CHECK(o.block_count == 59);
  CHECK(o.block_size % 4096 == 0);  // TPACKET_V3 blocks are whole pages
  CHECK(o.block_size / 2048 * 2048 == o.block_size);  // and whole frames
}

// The block walker on blocks the kernel would never write (found by fuzz_scan_ring): nothing
// outside the block may be read and a misaligned packet header is corrupt, not a packet.
namespace {

// One 4 KiB block inside a larger buffer whose bytes past the block look like a packet that
// is not ours (sll_pkttype 0), so a walker that reads past the block hands something over.
struct TestBlock {
  alignas(64) uint8_t bytes[8192] = {};
  void put32(size_t at, uint32_t v) { std::memcpy(bytes + at, &v, 4); }
  void put16(size_t at, uint16_t v) { std::memcpy(bytes + at, &v, 2); }
  // A packet header at `at`: no next packet, the IP header `net` bytes in, `snaplen` bytes of it.
  void packet(size_t at, uint32_t snaplen, uint16_t net = 80) {
    put32(at + 12, snaplen);           // tp_snaplen
    put16(at + 24, net);               // tp_mac
    put16(at + 26, net);               // tp_net
  }
  void header(uint32_t packets, uint32_t first) {
    put32(12, packets);                // hdr.bh1.num_pkts
    put32(16, first);                  // hdr.bh1.offset_to_first_pkt
  }
};

size_t walk(const TestBlock& b, size_t size) {
  return walk_ring_block(b.bytes, size, [](const uint8_t*, size_t, int64_t) {});
}

}  // namespace

TEST_CASE("the ring walker hands over well-formed packets, 8-byte aligned as the kernel writes them") {
  TestBlock b;
  b.header(2, 48);
  b.packet(48, 20);
  b.put32(48, 152);  // tp_next_offset: the kernel aligns packets to 8 bytes, not 16
  b.packet(200, 20);
  CHECK(walk(b, 4096) == 2);
}

TEST_CASE("the ring walker refuses a misaligned packet header (fuzz crash)") {
  TestBlock b;
  b.header(1, 50);
  b.packet(50, 20);
  CHECK(walk(b, 4096) == 0);
}

TEST_CASE("the ring walker reads no address past the block's end (fuzz crash)") {
  TestBlock b;
  // The 48-byte packet header ends at the block's end; its sockaddr_ll would lie beyond it.
  b.header(1, 4096 - 48);
  b.packet(4096 - 48, 0, 48);  // an empty packet right at the end: inside, but its address is not
  CHECK(walk(b, 4096) == 0);
}
