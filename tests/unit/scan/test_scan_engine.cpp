// The parts of scan_engine.hpp that need no sockets: per-round source ports and build_probe.
#include <catch2/catch.hpp>

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
  const auto source = *IpAddress::parse("192.0.2.1"), target = *IpAddress::parse("198.51.100.2");
  const auto refused = build_probe(config_with(65535, 1, false), source, target, 80);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::bad_input);
}

TEST_CASE("a retried probe is a new 4-tuple with its own cookie") {
  const auto source = *IpAddress::parse("192.0.2.1"), target = *IpAddress::parse("198.51.100.2");
  const ScanConfig c = config_with(61000, 2, false);
  const ScanCookie cookie(c.key);
  uint32_t previous_seq = 0;
  for (int round = 0; round <= 2; ++round) {
    auto p = build_probe(c, source, target, 443, round);
    REQUIRE(p);
    CHECK(p->sport == 61000 + round);
    const auto d = decode_packet(p->packet.data(), p->packet.size());
    REQUIRE(d);
    CHECK(d->tcp.sport == p->sport);
    // The cookie is over the port this round really uses, so replies to it validate.
    CHECK(d->tcp.seq == ScanCookie::seq_part(cookie.of(source, p->sport, target, 443)));
    CHECK(d->tcp.seq != previous_seq);
    previous_seq = d->tcp.seq;
  }
  auto fixed = build_probe(config_with(40000, 2, true), source, target, 443, 2);
  REQUIRE(fixed);
  CHECK(fixed->sport == 40000);
}
