// The quoted SYN against the one sent: each rewritten field named once, the fields every router
// changes (TTL, checksums) never, and what a short quote cannot show marked partial. The
// rewritten quotes are built by libtins (the oracle), the sent SYN by craft_segment.
#include <catch2/catch.hpp>

#include <tins/ip.h>
#include <tins/ipv6.h>
#include <tins/tcp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/segment_diff.hpp"

using namespace tcpkit;

namespace {

SegmentSpec syn_spec(bool v6) {
  SegmentSpec s;
  s.src = *IpAddress::parse(v6 ? "fd00:1::2" : "10.0.1.2");
  s.dst = *IpAddress::parse(v6 ? "fd00:4::2" : "10.0.4.2");
  s.sport = 40000;
  s.dport = 80;
  s.seq = 0x01020304;
  s.flags = tcp_flag::syn;
  s.window = 64240;
  s.options = linux_layout(1460, 77, 7);
  s.ttl = 3;
  s.ip_id = 0x5303;
  return s;
}

std::vector<uint8_t> crafted(const SegmentSpec& s) { return *craft_segment(s); }

// The same SYN as a router would quote it after a middlebox's rewrite, serialised by libtins.
struct Rewrite {
  uint16_t mss = 1460;
  bool sack = true;
  uint16_t window = 64240;
  uint8_t tos = 0;
  uint8_t flags = tcp_flag::syn;
  uint8_t ttl = 1;
  uint32_t flow_label = 0;
};
std::vector<uint8_t> libtins_quote(const SegmentSpec& s, const Rewrite& r) {
  Tins::TCP tcp(s.dport, s.sport);
  tcp.seq(s.seq);
  tcp.flags(r.flags);
  tcp.window(r.window);
  tcp.mss(r.mss);
  if (r.sack)
    tcp.sack_permitted();
  else
    tcp.add_option(Tins::TCP::option(Tins::TCP::NOP)), tcp.add_option(Tins::TCP::option(Tins::TCP::NOP));
  tcp.timestamp(77, 0);
  tcp.add_option(Tins::TCP::option(Tins::TCP::NOP));
  tcp.winscale(7);
  if (s.dst.is_v4()) {
    Tins::IP ip(Tins::IPv4Address(s.dst.to_string()), Tins::IPv4Address(s.src.to_string()));
    ip.ttl(r.ttl);
    ip.id(s.ip_id);
    ip.tos(r.tos);
    ip.flags(Tins::IP::DONT_FRAGMENT);
    ip /= tcp;
    return ip.serialize();
  }
  Tins::IPv6 ip(Tins::IPv6Address(s.dst.to_string()), Tins::IPv6Address(s.src.to_string()));
  ip.hop_limit(r.ttl);
  ip.traffic_class(r.tos);
  ip.flow_label(r.flow_label);
  ip /= tcp;
  return ip.serialize();
}

std::vector<std::string> texts(const SegmentDiff& d) {
  std::vector<std::string> out;
  for (const auto& c : d.changes) out.push_back(to_string(c));
  return out;
}

}  // namespace

TEST_CASE("an untouched SYN quoted whole shows no change, though its TTL and checksums differ") {
  for (bool v6 : {false, true}) {
    const SegmentSpec s = syn_spec(v6);
    const auto sent = crafted(s);
    const auto quote = libtins_quote(s, Rewrite{});
    REQUIRE(quote.size() == sent.size());
    REQUIRE(quote != sent);  // the TTL and the IP checksum differ
    const auto d = diff_quoted_segment(sent, quote);
    REQUIRE(d);
    CHECK(d->changes.empty());
    CHECK(d->partial.empty());
    CHECK(d->quoted_bytes == sent.size());
  }
}

TEST_CASE("a middlebox's rewrites of the SYN are each named, IP fields first") {
  const SegmentSpec s = syn_spec(false);
  const auto sent = crafted(s);
  Rewrite r;
  r.mss = 1200;
  r.sack = false;
  r.window = 1000;
  r.tos = (10 << 2) | 1;  // DSCP AF11, ECT(1)
  r.flags = tcp_flag::syn | tcp_flag::ece | tcp_flag::cwr;
  const auto d = diff_quoted_segment(sent, libtins_quote(s, r));
  REQUIRE(d);
  CHECK(texts(*d) == std::vector<std::string>{"dscp 0 -> 10", "ecn 0 -> 1", "flags S -> SEW", "window 64240 -> 1000",
                                              "mss 1460 -> mss 1200", "sackOK removed (NOPs in its place)"});
  REQUIRE(d->changes[4].option);
  CHECK(d->changes[4].option->what == OptionChange::What::changed);
  CHECK(d->changes[4].option->kind == tcp_option::mss);
  CHECK(d->changes[5].field == SegmentField::options);
  CHECK(d->partial.empty());
}

TEST_CASE("IPv6: traffic class and flow label are read across their nibbles") {
  const SegmentSpec s = syn_spec(true);
  Rewrite r;
  r.tos = (46 << 2) | 2;  // EF, ECT(0)
  r.flow_label = 0xabcde;
  const auto d = diff_quoted_segment(crafted(s), libtins_quote(s, r));
  REQUIRE(d);
  CHECK(texts(*d) == std::vector<std::string>{"dscp 0 -> 46", "ecn 0 -> 2", "flow_label 0 -> 703710"});
}

TEST_CASE("IPv4 ID, DF, ports, sequence number and urgent pointer") {
  SegmentSpec s = syn_spec(false);
  const auto sent = crafted(s);
  SegmentSpec seen = s;
  seen.ip_id = 7;
  seen.sport = 50000;
  seen.seq = 99;
  seen.urgent = 5;
  auto quote = crafted(seen);
  quote[6] = 0;  // DF cleared
  const auto d = diff_quoted_segment(sent, quote);
  REQUIRE(d);
  CHECK(texts(*d) == std::vector<std::string>{"ip_id 21251 -> 7", "df set -> clear", "sport 40000 -> 50000",
                                              "seq 16909060 -> 99", "urgent 0 -> 5"});
}

TEST_CASE("a short quote marks what it does not reach as partial, never as changed") {
  const SegmentSpec s = syn_spec(false);
  const auto sent = crafted(s);
  SECTION("RFC 792's 8 bytes: ports and sequence number only") {
    std::vector<uint8_t> quote(sent.begin(), sent.begin() + 28);
    const auto d = diff_quoted_segment(sent, quote);
    REQUIRE(d);
    CHECK(d->changes.empty());
    using F = SegmentField;
    CHECK(d->partial == std::vector<F>{F::ack, F::flags, F::window, F::urgent, F::options});
  }
  SECTION("cut inside the options") {
    std::vector<uint8_t> quote(sent.begin(), sent.begin() + 48);
    const auto d = diff_quoted_segment(sent, quote);
    REQUIRE(d);
    CHECK(d->changes.empty());
    CHECK(d->partial == std::vector<SegmentField>{SegmentField::options});
  }
  SECTION("no TCP byte at all") {
    std::vector<uint8_t> quote(sent.begin(), sent.begin() + 20);
    const auto d = diff_quoted_segment(sent, quote);
    REQUIRE(d);
    CHECK(d->partial.size() == 8);
  }
}

TEST_CASE("what is not a TCP quote of the same IP version gives no diff") {
  const auto v4 = crafted(syn_spec(false));
  const auto v6 = crafted(syn_spec(true));
  CHECK_FALSE(diff_quoted_segment(v4, v6));
  CHECK_FALSE(diff_quoted_segment(v4, std::vector<uint8_t>{}));
  CHECK_FALSE(diff_quoted_segment(v4, std::vector<uint8_t>(v4.begin(), v4.begin() + 19)));
  auto udp = v4;
  udp[9] = 17;
  CHECK_FALSE(diff_quoted_segment(v4, udp));
  CHECK_FALSE(diff_quoted_segment(std::vector<uint8_t>(v4.begin(), v4.begin() + 30), v4));
  // Every cut of a quote is read without a read past its end.
  for (size_t n = 0; n <= v4.size(); ++n) (void)diff_quoted_segment(v4, std::vector<uint8_t>(v4.begin(), v4.begin() + long(n)));
}

TEST_CASE("icmp_error_quote finds the datagram in a time exceeded, and stops at RFC 4884 extensions") {
  const auto syn = crafted(syn_spec(false));
  std::vector<uint8_t> icmp = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 2, 1, 10, 0, 1, 2,
                               11, 0, 0, 0, 0, 0, 0, 0};
  icmp.insert(icmp.end(), syn.begin(), syn.end());
  icmp[2] = uint8_t(icmp.size() >> 8);
  icmp[3] = uint8_t(icmp.size());
  auto q = icmp_error_quote(icmp);
  CHECK(std::vector<uint8_t>(q.begin(), q.end()) == syn);
  // RFC 4884: length 32 bits words; 128 bytes of quote then an extension structure.
  std::vector<uint8_t> padded = icmp;
  padded.resize(28 + 128, 0);
  padded.insert(padded.end(), {0x20, 0, 0, 0, 0, 8, 1, 1, 0, 0, 0, 0});
  padded[2] = uint8_t(padded.size() >> 8);
  padded[3] = uint8_t(padded.size());
  padded[20 + 5] = 32;
  q = icmp_error_quote(padded);
  CHECK(q.size() == 128);
  // The whole message, extensions included, for the extension decoder: the IP header's length
  // bounds it (trailing capture bytes are not part of it).
  std::vector<uint8_t> trailing = padded;
  trailing.insert(trailing.end(), {0xde, 0xad});
  const IcmpErrorMessage m = icmp_error_message(trailing);
  CHECK(!m.v6);
  CHECK(m.message.size() == padded.size() - 20);
  CHECK(m.message[0] == 11);
  // Echo reply, not an error.
  icmp[20] = 0;
  CHECK(icmp_error_quote(icmp).empty());
  CHECK(icmp_error_message(icmp).message.empty());
  for (size_t n = 0; n <= padded.size(); ++n) {
    (void)icmp_error_quote(std::span<const uint8_t>(padded.data(), n));
    (void)icmp_error_message(std::span<const uint8_t>(padded.data(), n));
  }
}
