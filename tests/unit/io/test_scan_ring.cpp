// The packet ring's size: what can be checked without CAP_NET_RAW.
#include <catch2/catch.hpp>

#include <cstring>

#include "tcpkit/io/scan_ring.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

using namespace tcpkit;

TEST_CASE("the receive ring holds about 20 ms of replies, within 512 KiB and 2 MiB") {
  auto bytes = [](const RingOptions& o) { return uint64_t(o.block_size) * o.block_count; };
  CHECK(bytes(ring_for_rate(0)) == 512 * 1024);
  CHECK(bytes(ring_for_rate(10'000)) == 512 * 1024);  // the default rate: the floor of 16 blocks
  CHECK(bytes(ring_for_rate(100'000)) == 512 * 1024);
  CHECK(ring_for_rate(400'000).block_count == 157);    // 400k/s x 20 ms x 160 B = 1.28 MB
  CHECK(bytes(ring_for_rate(10'000'000)) == 2 * 1024 * 1024);
  const auto o = ring_for_rate(600'000);
  CHECK(o.block_count == 235);
  CHECK(o.block_size % 4096 == 0);  // TPACKET_V3 blocks are whole pages
  CHECK(o.block_size / 2048 * 2048 == o.block_size);  // and whole frames
}

TEST_CASE("waiting on a closed fd or a socket in error is an error, not a spin") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  auto closed = wait_readable(pipe_fds[0], 1000);
  REQUIRE_FALSE(closed);
  CHECK(closed.error().err_no == EBADF);

  // A UDP socket connected to a port where nothing listens: the ICMP port unreachable leaves
  // ECONNREFUSED pending (POLLERR), as ENETDOWN is left on a packet socket whose link goes away.
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(udp >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(udp, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  socklen_t length = sizeof local;
  REQUIRE(::getsockname(udp, reinterpret_cast<sockaddr*>(&local), &length) == 0);
  const int other = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // take a port, then free it
  sockaddr_in gone = local;
  gone.sin_port = 0;
  REQUIRE(::bind(other, reinterpret_cast<sockaddr*>(&gone), sizeof gone) == 0);
  length = sizeof gone;
  REQUIRE(::getsockname(other, reinterpret_cast<sockaddr*>(&gone), &length) == 0);
  ::close(other);
  REQUIRE(::connect(udp, reinterpret_cast<sockaddr*>(&gone), sizeof gone) == 0);
  REQUIRE(::send(udp, "x", 1, 0) == 1);
  ::usleep(20'000);
  auto refused = wait_readable(udp, 1000);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().err_no == ECONNREFUSED);
  CHECK(refused.error().code == ErrorCode::system);

  // Nothing to read and no error: a plain timeout.
  CHECK(wait_readable(udp, 1));
  ::close(udp);
}

TEST_CASE("a poll that fails ends the read loop with its error, after a bounded number of tries") {
  int calls = 0;
  auto broken = [&](int) -> Result<size_t> {
    ++calls;
    return fail(ErrorCode::system, "poll packet ring: Bad file descriptor", EBADF);
  };
  auto r = poll_until(broken, [&] { return calls >= 1000; }, 0, 5);
  REQUIRE_FALSE(r);
  CHECK(r.error().err_no == EBADF);
  CHECK(calls == 1);

  // A shortage is tried again, but not forever.
  calls = 0;
  auto starved = [&](int) -> Result<size_t> {
    ++calls;
    return fail(ErrorCode::system, "poll packet ring: Cannot allocate memory", ENOMEM);
  };
  r = poll_until(starved, [&] { return calls >= 1000; }, 0, 5);
  REQUIRE_FALSE(r);
  CHECK(r.error().err_no == ENOMEM);
  CHECK(calls == 5);

  // Failures that stop are retried, and the loop runs on until told to stop.
  calls = 0;
  auto flaky = [&](int) -> Result<size_t> {
    ++calls;
    if (calls <= 3) return fail(ErrorCode::system, "poll packet ring: Cannot allocate memory", ENOMEM);
    return size_t(0);
  };
  CHECK(poll_until(flaky, [&] { return calls >= 20; }, 0, 5));
  CHECK(calls == 20);
}

namespace {
// A TPACKET_V3 block of block_size bytes inside a larger zeroed buffer (what lies past the block
// reads as zeros: PACKET_HOST), with one packet header at offset.
std::vector<uint8_t> block_with_packet_at(size_t block_size, size_t offset, uint16_t snaplen) {
  std::vector<uint8_t> buffer(block_size + 4096, 0);
  auto* block = reinterpret_cast<tpacket_block_desc*>(buffer.data());
  block->hdr.bh1.num_pkts = 1;
  block->hdr.bh1.offset_to_first_pkt = uint32_t(offset);
  auto* h = reinterpret_cast<tpacket3_hdr*>(buffer.data() + offset);
  h->tp_mac = 0;
  h->tp_net = 0;  // points at the header itself: inside the block
  h->tp_snaplen = snaplen;
  h->tp_next_offset = 0;
  if (offset + TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll) <= buffer.size()) {
    auto* ll = reinterpret_cast<sockaddr_ll*>(buffer.data() + offset + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    ll->sll_pkttype = PACKET_HOST;
  }
  return buffer;
}
}  // namespace

TEST_CASE("the block walker reads no packet whose headers run past the block") {
  const size_t block_size = 4096;
  size_t handed_length = 0;
  auto count = [&](const uint8_t*, size_t length, int64_t) { handed_length = length; };
  // A whole packet: handed over.
  auto good = block_with_packet_at(block_size, 64, 20);
  CHECK(walk_ring_block(good.data(), block_size, count) == 1);
  CHECK(handed_length == 20);
  // The tpacket3_hdr fits, the sockaddr_ll after it does not: nothing is read or handed over.
  const size_t tight = block_size - sizeof(tpacket3_hdr);
  auto cut = block_with_packet_at(block_size, tight, 8);
  CHECK(walk_ring_block(cut.data(), block_size, count) == 0);
  // A first-packet offset past the block.
  auto outside = block_with_packet_at(block_size, block_size + 64, 8);
  CHECK(walk_ring_block(outside.data(), block_size, count) == 0);
  // A block smaller than its own descriptor.
  CHECK(walk_ring_block(good.data(), 16, count) == 0);
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

TEST_CASE("a wake ends the wait at once and is cleared; no wake, the wait runs out") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);  // never written: never readable
  auto wake = WakeEvent::open("test");
  REQUIRE(wake);
  wake->signal();
  const auto start = std::chrono::steady_clock::now();
  CHECK(wait_readable(pipe_fds[0], 5000, &*wake));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  uint64_t left = 0;
  CHECK(::read(wake->fd(), &left, sizeof left) < 0);  // cleared by the wait: nothing pending
  const auto again = std::chrono::steady_clock::now();
  CHECK(wait_readable(pipe_fds[0], 20, &*wake));
  CHECK(std::chrono::steady_clock::now() - again >= std::chrono::milliseconds(15));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}
