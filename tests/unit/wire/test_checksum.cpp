// Received checksums: crafted packets, then one byte or one checksum bit changed.
#include <catch2/catch.hpp>

#include <linux/if_packet.h>

#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/wire/checksum.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {

std::vector<uint8_t> segment(const char* src, const char* dst, size_t payload = 0) {
  SegmentSpec s;
  s.src = *IpAddress::parse(src);
  s.dst = *IpAddress::parse(dst);
  s.sport = 80;
  s.dport = 40000;
  s.seq = 7;
  s.ack = 1001;
  s.flags = tcp_flag::rst | tcp_flag::ack;
  s.payload.assign(payload, 0x5a);
  return craft_segment(s).value();
}

// An ICMP echo request of n bytes after an IPv4 header, checksums right.
std::vector<uint8_t> icmp_echo_v4() {
  std::vector<uint8_t> p = {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
                            8, 0, 0, 0, 0x12, 0x34, 0, 1};
  auto fix = [&](size_t at, size_t from, size_t n) {
    uint32_t sum = 0;
    for (size_t i = from; i + 1 < from + n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    p[at] = uint8_t(~sum >> 8);
    p[at + 1] = uint8_t(~sum);
  };
  fix(10, 0, 20);
  fix(22, 20, 8);
  return p;
}

}  // namespace

TEST_CASE("checksums of whole TCP and ICMP packets are verified") {
  for (auto packet : {segment("10.0.0.2", "10.0.0.1"), segment("10.0.0.2", "10.0.0.1", 33),
                      segment("2001:db8::2", "2001:db8::1"), segment("2001:db8::2", "2001:db8::1", 33),
                      icmp_echo_v4()}) {
    CHECK(verify_checksums(packet.data(), packet.size()) == ChecksumCheck::good);
    auto corrupted = packet;
    corrupted.back() ^= 0x01;  // one bit of the payload or header
    CHECK(verify_checksums(corrupted.data(), corrupted.size()) == ChecksumCheck::bad);
    // Cut by a snaplen: cannot be judged.
    CHECK(verify_checksums(corrupted.data(), corrupted.size() - 1) == ChecksumCheck::unknown);
  }
  auto v4 = segment("10.0.0.2", "10.0.0.1");
  v4[8] ^= 0x10;  // the TTL: the IPv4 header checksum no longer adds up
  CHECK(verify_checksums(v4.data(), v4.size()) == ChecksumCheck::bad);
  auto fragment = segment("10.0.0.2", "10.0.0.1");
  fragment[6] |= 0x20;  // more fragments (the header checksum is now wrong too: unknown or bad, never good)
  CHECK(verify_checksums(fragment.data(), fragment.size()) != ChecksumCheck::good);
  const uint8_t garbage[3] = {0x45, 0, 0};
  CHECK(verify_checksums(garbage, sizeof garbage) == ChecksumCheck::unknown);
}

TEST_CASE("a checksum the kernel vouched for, or has not filled in yet, is not verified again") {
  auto bad = segment("10.0.0.2", "10.0.0.1");
  bad[bad.size() - 3] ^= 0xff;
  CHECK(checksum_rejected(0, bad.data(), bad.size()));
  CHECK(checksum_rejected(TP_STATUS_USER, bad.data(), bad.size()));
  CHECK_FALSE(checksum_rejected(TP_STATUS_CSUM_VALID, bad.data(), bad.size()));
  CHECK_FALSE(checksum_rejected(TP_STATUS_CSUMNOTREADY, bad.data(), bad.size()));
  const auto good = segment("10.0.0.2", "10.0.0.1");
  CHECK_FALSE(checksum_rejected(0, good.data(), good.size()));
}
