#include <catch2/catch.hpp>

#include <random>

#include "tcpkit/scan_probe.hpp"

using namespace tcpkit;

namespace {
SegmentSpec base_spec(const char* src, const char* dst, uint8_t flags) {
  SegmentSpec s;
  s.src = *IpAddress::parse(src);
  s.dst = *IpAddress::parse(dst);
  s.sport = 61234;
  s.dport = 1;
  s.flags = flags;
  s.window = 1024;
  if (flags & tcp_flag::syn) s.options.mss = 1460;
  return s;
}

DecodedPacket tcp_reply(uint8_t flags, uint32_t seq, uint32_t ack) {
  DecodedPacket p;
  p.kind = DecodedPacket::Kind::tcp;
  p.tcp.flags = flags;
  p.tcp.seq = seq;
  p.tcp.ack = ack;
  return p;
}

DecodedPacket icmp_reply(bool v6, uint8_t type, uint8_t code, std::optional<uint32_t> quoted_seq) {
  DecodedPacket p;
  p.kind = DecodedPacket::Kind::icmp_error;
  p.icmp.v6 = v6;
  p.icmp.type = type;
  p.icmp.code = code;
  p.icmp.quoted.protocol = 6;
  p.icmp.quoted.ports_known = true;
  p.icmp.quoted.seq = quoted_seq;
  return p;
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
        s.dport = uint16_t(rng() % 65535 + 1);
        s.seq = uint32_t(rng());
        s.ack = uint32_t(rng());
        s.ip_id = uint16_t(rng());
        t->write(out.data(), s.dst, s.dport, s.seq, s.ack, s.ip_id);
        const auto expected = craft_segment(s);
        REQUIRE(expected);
        INFO(s.dst.to_string() << " port " << s.dport << " flags " << int(flags));
        REQUIRE(out == *expected);
        // And our own decoder reads back what was patched.
        const auto d = decode_packet(out.data(), out.size());
        REQUIRE(d);
        CHECK(d->tcp.dport == s.dport);
        CHECK(d->tcp.seq == s.seq);
        CHECK(d->dst == s.dst);
      }
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

TEST_CASE("replies are read the way nmap reads them") {
  using S = PortState;
  auto state = [](ProbeStyle style, const DecodedPacket& p) { return classify_reply(style, p).value().state; };
  CHECK(state(ProbeStyle::syn, tcp_reply(0x12, 0, 0)) == S::open);
  CHECK(classify_reply(ProbeStyle::syn, tcp_reply(0x12, 0, 0))->reason == Reason::syn_ack);
  CHECK(state(ProbeStyle::syn, tcp_reply(0x14, 0, 0)) == S::closed);
  CHECK_FALSE(classify_reply(ProbeStyle::syn, tcp_reply(0x10, 0, 0)));
  CHECK(state(ProbeStyle::ack, tcp_reply(0x04, 0, 0)) == S::unfiltered);
  CHECK(state(ProbeStyle::fin_like, tcp_reply(0x14, 0, 0)) == S::closed);
  CHECK_FALSE(classify_reply(ProbeStyle::fin_like, tcp_reply(0x12, 0, 0)));
  for (uint8_t code : {0, 1, 2, 3, 9, 10, 13}) {
    const auto v = classify_reply(ProbeStyle::syn, icmp_reply(false, 3, code, 1));
    REQUIRE(v);
    CHECK(v->state == S::filtered);
    CHECK(v->icmp_code == code);
  }
  CHECK_FALSE(classify_reply(ProbeStyle::syn, icmp_reply(false, 3, 4, 1)));   // fragmentation needed
  CHECK_FALSE(classify_reply(ProbeStyle::syn, icmp_reply(false, 11, 0, 1)));  // time exceeded
  CHECK(state(ProbeStyle::fin_like, icmp_reply(true, 1, 1, 1)) == S::filtered);
  CHECK_FALSE(classify_reply(ProbeStyle::syn, icmp_reply(true, 3, 0, 1)));

  CHECK(probe_style(tcp_flag::syn) == ProbeStyle::syn);
  CHECK(probe_style(tcp_flag::syn | tcp_flag::ack) == ProbeStyle::ack);
  CHECK(probe_style(tcp_flag::ack) == ProbeStyle::ack);
  CHECK(probe_style(0) == ProbeStyle::fin_like);
  CHECK(no_reply_state(ProbeStyle::syn) == S::filtered);
  CHECK(no_reply_state(ProbeStyle::ack) == S::filtered);
  CHECK(no_reply_state(ProbeStyle::fin_like) == S::open_filtered);
  CHECK(std::string(to_string(S::open_filtered)) == "open|filtered");
}
