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

// The IPv4 header checksum made right again after a change to the header.
void fix_ip_header(std::vector<uint8_t>& p) {
  p[10] = p[11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = uint8_t(~sum >> 8);
  p[11] = uint8_t(~sum);
}

// An IPv6 packet with an extension header of 8 bytes (kind next_header) before its TCP segment.
std::vector<uint8_t> with_v6_extension(std::vector<uint8_t> p, uint8_t kind) {
  const uint8_t upper = p[6];
  std::vector<uint8_t> extension = {upper, 0, 1, 4, 0, 0, 0, 0};  // PadN filling the 8 bytes
  if (kind == 44) extension = {upper, 0, 0, 1, 0, 0, 0, 9};       // fragment offset 0, more fragments
  p.insert(p.begin() + 40, extension.begin(), extension.end());
  p[6] = kind;
  const size_t payload = size_t(p[4] << 8 | p[5]) + 8;
  p[4] = uint8_t(payload >> 8);
  p[5] = uint8_t(payload);
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
    // Cut by a snaplen: cannot be judged, and so cannot be trusted.
    CHECK(verify_checksums(corrupted.data(), corrupted.size() - 1) == ChecksumCheck::unverifiable);
  }
  auto v4 = segment("10.0.0.2", "10.0.0.1");
  v4[8] ^= 0x10;  // the TTL: the IPv4 header checksum no longer adds up
  CHECK(verify_checksums(v4.data(), v4.size()) == ChecksumCheck::bad);
  auto fragment = segment("10.0.0.2", "10.0.0.1");
  fragment[6] |= 0x20;  // more fragments
  fix_ip_header(fragment);
  CHECK(verify_checksums(fragment.data(), fragment.size()) == ChecksumCheck::unverifiable);
  const uint8_t garbage[3] = {0x45, 0, 0};
  CHECK(verify_checksums(garbage, sizeof garbage) == ChecksumCheck::unknown);
}

TEST_CASE("IPv6 extension headers are walked to the segment whose checksum is verified") {
  // Found: behind a destination options header a segment with a wrong checksum was not judged.
  for (const uint8_t kind : {uint8_t(0), uint8_t(60)}) {
    auto packet = with_v6_extension(segment("2001:db8::2", "2001:db8::1", 12), kind);
    CHECK(verify_checksums(packet.data(), packet.size()) == ChecksumCheck::good);
    packet.back() ^= 0x01;
    CHECK(verify_checksums(packet.data(), packet.size()) == ChecksumCheck::bad);
  }
  const auto fragment = with_v6_extension(segment("2001:db8::2", "2001:db8::1"), 44);
  CHECK(verify_checksums(fragment.data(), fragment.size()) == ChecksumCheck::unverifiable);
  // An atomic fragment (offset 0, no more: RFC 6946) is the whole packet, and is judged.
  auto atomic = fragment;
  atomic[40 + 3] = 0;  // clear M
  CHECK(verify_checksums(atomic.data(), atomic.size()) == ChecksumCheck::good);
  atomic.back() ^= 0x01;
  CHECK(verify_checksums(atomic.data(), atomic.size()) == ChecksumCheck::bad);
}

TEST_CASE("a checksum the kernel vouched for, or has not filled in yet, is not verified again") {
  auto bad = segment("10.0.0.2", "10.0.0.1");
  bad[bad.size() - 3] ^= 0xff;
  CHECK(admit_packet(0, bad.data(), bad.size(), bad.size()) == Admission::bad_checksum);
  CHECK(admit_packet(TP_STATUS_USER, bad.data(), bad.size(), bad.size()) == Admission::bad_checksum);
  CHECK(admit_packet(TP_STATUS_CSUM_VALID, bad.data(), bad.size(), bad.size()) == Admission::pass);
  CHECK(admit_packet(TP_STATUS_CSUMNOTREADY, bad.data(), bad.size(), bad.size()) == Admission::pass);
  const auto good = segment("10.0.0.2", "10.0.0.1");
  CHECK(admit_packet(0, good.data(), good.size(), good.size()) == Admission::pass);
}

TEST_CASE("a packet whose checksum cannot be checked is not admitted") {
  // Found: a SYN/ACK with 400 bytes of data and a wrong checksum, longer than the capture kept,
  // read "open"; so did one whose IP header claimed more bytes than came.
  const auto long_segment = segment("10.0.0.2", "10.0.0.1", 400);
  CHECK(admit_packet(0, long_segment.data(), 160, long_segment.size()) == Admission::unverifiable);
  CHECK(admit_packet(TP_STATUS_CSUM_VALID, long_segment.data(), 160, long_segment.size()) == Admission::pass);
  // Shorter on the wire than its header claims: the kernel drops it, whatever the status says.
  CHECK(admit_packet(0, long_segment.data(), 100, 100) == Admission::unverifiable);
  CHECK(admit_packet(TP_STATUS_CSUM_VALID, long_segment.data(), 100, 100) == Admission::unverifiable);
  const uint8_t not_ip[4] = {0, 1, 2, 3};
  CHECK(admit_packet(0, not_ip, sizeof not_ip, sizeof not_ip) == Admission::pass);  // the decoder drops it
}
