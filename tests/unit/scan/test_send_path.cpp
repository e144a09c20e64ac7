#include <catch2/catch.hpp>

#include "tcpkit/scan/send_path.hpp"

using namespace tcpkit;

namespace {
NextHopFacts one_next_hop() {
  NextHopFacts f;
  f.ethernet = true;
  f.next_hop = IpAddress::parse("10.0.0.1");
  return f;
}
NextHopFacts none(bool ethernet, const std::string& why) {
  NextHopFacts f;
  f.ethernet = ethernet;
  f.why_not = why;
  return f;
}
}  // namespace

TEST_CASE("send path: frames when the targets share one Ethernet next hop, unless --send-ip") {
  for (SendMode mode : {SendMode::automatic, SendMode::ethernet}) {
    auto d = decide_send_path(mode, one_next_hop());
    REQUIRE(d);
    CHECK(d->frames);
    CHECK(d->why_ip.empty());
  }
  auto ip = decide_send_path(SendMode::ip, one_next_hop());
  REQUIRE(ip);
  CHECK_FALSE(ip->frames);
  CHECK(ip->why_ip.empty());  // the user's choice needs no reason
}

TEST_CASE("send path: without one Ethernet next hop, the IP path with the reason, or --send-eth fails") {
  const NextHopFacts cases[] = {none(false, "interface lo is not Ethernet"),
                                none(true, "the targets are routed through several gateways"),
                                none(true, "")};
  for (const auto& facts : cases) {
    auto d = decide_send_path(SendMode::automatic, facts);
    REQUIRE(d);
    CHECK_FALSE(d->frames);
    CHECK(d->why_ip == (facts.why_not.empty() ? "no single next hop" : facts.why_not));
    auto forced = decide_send_path(SendMode::ethernet, facts);
    REQUIRE_FALSE(forced);
    CHECK(forced.error().code == ErrorCode::system);
    CHECK(forced.error().message.rfind("--send-eth: ", 0) == 0);
    CHECK(forced.error().message.find("--send-ip") != std::string::npos);
    auto ip = decide_send_path(SendMode::ip, facts);
    REQUIRE(ip);
    CHECK_FALSE(ip->frames);
  }
  // A next hop on a link that is not Ethernet is still no frame path.
  NextHopFacts tunnel = one_next_hop();
  tunnel.ethernet = false;
  CHECK_FALSE(decide_send_path(SendMode::automatic, tunnel)->frames);
}

TEST_CASE("send path names: one word per path, both when the families differ") {
  SendPath path;
  CHECK(send_path_name(path) == "ip");
  path.has_v4 = path.has_v6 = true;
  path.v4 = FrameRoute{};
  CHECK(send_path_name(path) == "ethernet+ip");
  path.v6 = FrameRoute{};
  CHECK(send_path_name(path) == "ethernet");
  path.v6->bypass_qdisc = path.v4->bypass_qdisc = true;
  CHECK(send_path_name(path) == "ethernet-bypass");
}
