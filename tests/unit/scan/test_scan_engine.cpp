// The parts of the scanner that need no sockets: per-round source ports and the probe writer.
#include <catch2/catch.hpp>

#include "tcpkit/scan/probe_writer.hpp"
#include "tcpkit/scan/scan_engine.hpp"

using namespace tcpkit;

namespace {
ScanConfig config_with(uint16_t port, int retries, bool fixed) {
  ScanConfig c;
  c.source_port = port;
  c.retries = retries;
  c.fixed_source_port = fixed;
  c.key = SipKey{1, 2};
  return c;
}
}  // namespace

TEST_CASE("each retry round sends from its own source port unless -g fixed one") {
  const ScanConfig moving = config_with(61000, 3, false);
  CHECK(moving.port_of_round(0) == 61000);
  CHECK(moving.port_of_round(1) == 61001);
  CHECK(moving.last_source_port() == 61003);
  const ScanConfig fixed = config_with(40000, 3, true);
  CHECK(fixed.port_of_round(0) == 40000);
  CHECK(fixed.port_of_round(3) == 40000);
  CHECK(fixed.last_source_port() == 40000);
}

TEST_CASE("per-round ports must stay below 65536") {
  CHECK(check_source_ports(config_with(65515, 20, false)));
  CHECK_FALSE(check_source_ports(config_with(65516, 20, false)));
  CHECK(check_source_ports(config_with(65535, 20, true)));  // -g: one port for all rounds
  const ScanSources sources{{*IpAddress::parse("192.0.2.1")}, "", 0};
  const auto refused = ProbeWriter::make(config_with(65535, 1, false), sources);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::bad_input);
}

TEST_CASE("a retried probe is a new 4-tuple with its own cookie") {
  const auto source = *IpAddress::parse("192.0.2.1"), target = *IpAddress::parse("198.51.100.2");
  const ScanSources sources{{source}, "", 0};
  const ScanConfig c = config_with(61000, 2, false);
  const ScanCookie cookie(c.key);
  auto writer = ProbeWriter::make(c, sources);
  REQUIRE(writer);
  uint32_t previous_seq = 0;
  std::vector<uint8_t> packet;
  for (int round = 0; round <= 2; ++round) {
    const uint16_t sport = c.port_of_round(round);
    CHECK(sport == 61000 + round);
    const ProbeNumbers n = writer->write(packet, 0, target, 443, sport);
    const auto d = decode_packet(packet.data(), packet.size());
    REQUIRE(d);
    CHECK(d->tcp.sport == sport);
    // The cookie is over the port this round really uses, so replies to it validate.
    CHECK(d->tcp.seq == ScanCookie::seq_part(cookie.of(source, sport, target, 443)));
    CHECK(d->tcp.seq == n.seq);
    CHECK(d->tcp.seq != previous_seq);
    previous_seq = d->tcp.seq;
  }
  CHECK(config_with(40000, 2, true).port_of_round(2) == 40000);
}

TEST_CASE("our RST goes from the port the SYN/ACK came to, and only from our own sources") {
  const auto source = *IpAddress::parse("192.0.2.1"), target = *IpAddress::parse("198.51.100.2");
  const ScanSources sources{{source}, "", 0};
  auto writer = ProbeWriter::make(config_with(61000, 2, false), sources);
  REQUIRE(writer);
  std::vector<uint8_t> packet;
  const uint64_t cookie = writer->cookie_of(source, 61002, target, 443);
  REQUIRE(writer->write_reset(packet, source, 61002, target, 443, 0xabcdef01, cookie));
  const auto d = decode_packet(packet.data(), packet.size());
  REQUIRE(d);
  CHECK(d->src == source);
  CHECK(d->dst == target);
  CHECK(d->tcp.sport == 61002);  // the round's port: the peer's half-open entry is on that one
  CHECK(d->tcp.dport == 443);
  CHECK(d->tcp.flags == tcp_flag::rst);
  CHECK(d->tcp.seq == 0xabcdef01);
  CHECK(d->tcp.window == 0);
  CHECK(d->tcp.options.count() == 0);
  CHECK(d->ip_id == uint16_t(probe_ip_id(cookie) ^ 1));  // never the probe's own id
  CHECK_FALSE(writer->write_reset(packet, *IpAddress::parse("192.0.2.99"), 61002, target, 443, 1, cookie));
}
