#include <catch2/catch.hpp>

#include <random>

#include "scan_replies.hpp"
#include "tcpkit/scan/scan_probe.hpp"

using namespace tcpkit;
using tcpkit_test::icmp_reply;
using tcpkit_test::tcp_reply;

namespace {
SegmentSpec base_spec(const char* src, const char* dst, uint8_t flags) {
  SegmentSpec s;
  s.src = *IpAddress::parse(src);
  s.dst = *IpAddress::parse(dst);
  s.sport = 61234;
  s.dport = 1;
  s.flags = flags;
  s.window = 1024;
  if (flags & tcp_flag::syn) s.options.add_mss(1460);
  return s;
}

// RFC 1071: a header with its checksum in place sums to 0xffff (ones' complement).
uint16_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Checks the IPv4 header checksum and the TCP checksum (with its pseudo-header) independently
// of the crafter, so a patch that forgot a field cannot agree with itself.
bool checksums_hold(const std::vector<uint8_t>& packet) {
  const bool v6 = (packet[0] >> 4) == 6;
  const size_t ip_length = v6 ? 40 : size_t(packet[0] & 0x0f) * 4;
  if (!v6 && ones_sum(packet.data(), ip_length) != 0xffff) return false;
  const size_t tcp_length = packet.size() - ip_length;
  uint32_t pseudo = v6 ? ones_sum(packet.data() + 8, 32) : ones_sum(packet.data() + 12, 8);
  pseudo += 6 + uint32_t(tcp_length);
  return ones_sum(packet.data() + ip_length, tcp_length, pseudo) == 0xffff;
}

}  // namespace

TEST_CASE("patched templates equal craft_segment's bytes, IPv4 and IPv6") {
  std::mt19937_64 rng(1234);
  const std::pair<const char*, const char*> pairs[] = {{"10.1.2.3", "10.9.8.7"}, {"2001:db8::1", "2001:db8:ff::42"}};
  for (const auto& [src, dst0] : pairs) {
    for (uint8_t flags : {tcp_flag::syn, tcp_flag::ack, tcp_flag::fin, uint8_t(0),
                          uint8_t(tcp_flag::fin | tcp_flag::psh | tcp_flag::urg), tcp_flag::rst}) {
      const SegmentSpec spec = base_spec(src, dst0, flags);
      auto t = PacketTemplate::make(spec);
      REQUIRE(t);
      std::vector<uint8_t> out(t->size());
      for (int i = 0; i < 200; ++i) {
        SegmentSpec s = spec;
        uint8_t addr[16];
        for (auto& b : addr) b = uint8_t(rng());
        s.dst = s.src.is_v4() ? IpAddress::from_v4(addr) : IpAddress::from_v6(addr);
        s.sport = uint16_t(rng() % 65535 + 1);
        s.dport = uint16_t(rng() % 65535 + 1);
        s.seq = uint32_t(rng());
        s.ack = uint32_t(rng());
        s.ip_id = uint16_t(rng());
        t->write(out.data(), PacketFields{s.dst, s.sport, s.dport, s.seq, s.ack, s.ip_id});
        const auto expected = craft_segment(s);
        REQUIRE(expected);
        INFO(s.dst.to_string() << " ports " << s.sport << " > " << s.dport << " flags " << int(flags));
        REQUIRE(out == *expected);
        CHECK(checksums_hold(out));
        // And our own decoder reads back what was patched.
        const auto d = decode_packet(out.data(), out.size());
        REQUIRE(d);
        CHECK(d->tcp.sport == s.sport);
        CHECK(d->tcp.dport == s.dport);
        CHECK(d->tcp.seq == s.seq);
        CHECK(d->dst == s.dst);
      }
    }
  }
}

TEST_CASE("the source port is patched like the other fields: a reset from each round's port") {
  // The scanner's politeness RST goes out from the port the SYN/ACK came to (one per retry
  // round), so one reset template must serve every port; the same for probes.
  for (const char* src : {"192.0.2.1", "2001:db8::1"}) {
    SegmentSpec spec = base_spec(src, src, tcp_flag::rst);
    spec.window = 0;
    auto t = PacketTemplate::make(spec);
    REQUIRE(t);
    const IpAddress dst = *IpAddress::parse(spec.src.is_v4() ? "198.51.100.9" : "2001:db8:1::9");
    std::vector<uint8_t> previous;
    for (uint16_t sport : {uint16_t(61000), uint16_t(61001), uint16_t(61020), uint16_t(65535), uint16_t(1)}) {
      std::vector<uint8_t> out(t->size());
      t->write(out.data(), PacketFields{dst, sport, 443, 0x01020304, 0, 7});
      SegmentSpec s = spec;
      s.dst = dst;
      s.sport = sport;
      s.dport = 443;
      s.seq = 0x01020304;
      s.ip_id = 7;
      INFO(src << " sport " << sport);
      REQUIRE(out == *craft_segment(s));
      CHECK(checksums_hold(out));
      const auto d = decode_packet(out.data(), out.size());
      REQUIRE(d);
      CHECK(d->tcp.sport == sport);
      CHECK(d->tcp.flags == tcp_flag::rst);
      CHECK(out != previous);
      previous = out;
    }
  }
}

TEST_CASE("replies must carry the cookie") {
  const ProbeNumbers syn{tcp_flag::syn, 1000, 0};
  CHECK(reply_matches_probe(syn, tcp_reply(tcp_flag::syn | tcp_flag::ack, 5, 1001)));
  CHECK(reply_matches_probe(syn, tcp_reply(tcp_flag::rst | tcp_flag::ack, 0, 1001)));
  CHECK_FALSE(reply_matches_probe(syn, tcp_reply(tcp_flag::syn | tcp_flag::ack, 5, 1000)));
  CHECK_FALSE(reply_matches_probe(syn, tcp_reply(tcp_flag::rst | tcp_flag::ack, 0, 1002)));
  CHECK_FALSE(reply_matches_probe(syn, tcp_reply(tcp_flag::rst, 0, 0)));     // a bare RST proves nothing here
  CHECK_FALSE(reply_matches_probe(syn, tcp_reply(tcp_flag::syn, 1001, 0)));  // nor does a bare SYN
  // Sequence space wraps.
  CHECK(reply_matches_probe(ProbeNumbers{tcp_flag::syn, 0xffffffffu, 0}, tcp_reply(0x12, 5, 0)));

  const ProbeNumbers ack{tcp_flag::ack, 1000, 77777};
  CHECK(reply_matches_probe(ack, tcp_reply(tcp_flag::rst, 77777, 0)));
  CHECK_FALSE(reply_matches_probe(ack, tcp_reply(tcp_flag::rst, 77778, 0)));

  const ProbeNumbers fin{tcp_flag::fin, 1000, 0};
  CHECK(reply_matches_probe(fin, tcp_reply(tcp_flag::rst | tcp_flag::ack, 0, 1001)));
  const ProbeNumbers null{0, 1000, 0};
  CHECK(reply_matches_probe(null, tcp_reply(tcp_flag::rst | tcp_flag::ack, 0, 1000)));
  CHECK_FALSE(reply_matches_probe(null, tcp_reply(tcp_flag::rst | tcp_flag::ack, 0, 1001)));

  CHECK(reply_matches_probe(syn, icmp_reply(false, 3, 13, 1000)));
  CHECK_FALSE(reply_matches_probe(syn, icmp_reply(false, 3, 13, 999)));
  CHECK_FALSE(reply_matches_probe(syn, icmp_reply(false, 3, 13, std::nullopt)));
  DecodedPacket other;
  CHECK_FALSE(reply_matches_probe(syn, other));
}
