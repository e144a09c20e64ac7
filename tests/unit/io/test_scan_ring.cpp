// The packet ring's size: what can be checked without CAP_NET_RAW.
#include <catch2/catch.hpp>

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
