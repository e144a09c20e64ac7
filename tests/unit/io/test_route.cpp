// The RTM_GETROUTE reply decoder on bytes (no kernel needed), and the malformed replies the
// fuzzer (fuzz_route) turned up.
#include <catch2/catch.hpp>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tcpkit/io/route.hpp"

using namespace tcpkit;

namespace {

struct Reply {
  std::vector<uint8_t> bytes;
  size_t start = 0;
  void header(uint16_t type) {
    start = bytes.size();
    bytes.resize(start + sizeof(nlmsghdr));
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_len = sizeof(nlmsghdr);
    std::memcpy(bytes.data() + start, &h, sizeof h);
  }
  void append(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
    while (bytes.size() % 4) bytes.push_back(0);
    const auto len = uint32_t(bytes.size() - start);
    std::memcpy(bytes.data() + start, &len, 4);
  }
  void attribute(uint16_t type, const void* data, uint16_t n) {
    rtattr a{uint16_t(RTA_LENGTH(n)), type};
    std::vector<uint8_t> buf(RTA_LENGTH(n));
    std::memcpy(buf.data(), &a, sizeof a);
    std::memcpy(buf.data() + RTA_LENGTH(0), data, n);
    append(buf.data(), buf.size());
  }
};

// An RTM_NEWROUTE for IPv4 through interface oif.
Reply route_via(int oif, uint8_t type = RTN_UNICAST) {
  Reply r;
  r.header(RTM_NEWROUTE);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_type = type;
  r.append(&rt, sizeof rt);
  r.attribute(RTA_OIF, &oif, sizeof oif);
  return r;
}

}  // namespace

TEST_CASE("a route reply gives the interface, source and gateway") {
  Reply r = route_via(7);
  const uint8_t src[4] = {10, 0, 0, 1}, gw[4] = {10, 0, 0, 254};
  r.attribute(RTA_PREFSRC, src, 4);
  r.attribute(RTA_GATEWAY, gw, 4);
  const auto d = decode_route_reply(r.bytes, Family::v4);
  CHECK(d.error == 0);
  CHECK(d.interface_index == 7);
  REQUIRE(d.source);
  CHECK(d.source->to_string() == "10.0.0.1");
  REQUIRE(d.gateway);
  CHECK(d.gateway->to_string() == "10.0.0.254");
  // An IPv4 address in a reply read for an IPv6 destination is not taken.
  const auto v6 = decode_route_reply(r.bytes, Family::v6);
  CHECK(!v6.source);
  CHECK(!v6.gateway);
}

TEST_CASE("a route to one of the host's own addresses is local") {
  // tcpscan must not bind its senders to lo for these (scan_engine.cpp).
  CHECK(decode_route_reply(route_via(1, RTN_LOCAL).bytes, Family::v4).local);
  CHECK(!decode_route_reply(route_via(7).bytes, Family::v4).local);
}

TEST_CASE("a route error reply gives its errno") {
  Reply r;
  r.header(NLMSG_ERROR);
  nlmsgerr e{};
  e.error = -ENETUNREACH;
  r.append(&e, sizeof e);
  CHECK(decode_route_reply(r.bytes, Family::v4).error == ENETUNREACH);
}

TEST_CASE("an error reply with a positive error is a bad message, not a negative errno (fuzz crash)") {
  // fuzz_route's input: one NLMSG_ERROR whose error field holds 0x00ffff9b.
  const std::vector<uint8_t> crash = {0x38, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x7f,
                                      0x00, 0x00, 0x9b, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x7f, 0x00, 0x00,
                                      0x9b, 0xff, 0xff, 0xff, 0x24, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x01, 0x00, 0x01, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x20, 0xc0, 0x00, 0x02, 0x01};
  CHECK(decode_route_reply(crash, Family::v4).error == EBADMSG);
}

TEST_CASE("an error reply too short to hold its error field is a bad message") {
  // A bare header says NLMSG_ERROR; the bytes after it belong to no message.
  Reply r;
  r.header(NLMSG_ERROR);
  const int32_t next = -EPERM;
  r.bytes.resize(r.bytes.size() + 4);
  std::memcpy(r.bytes.data() + 16, &next, 4);
  CHECK(decode_route_reply(r.bytes, Family::v4).error == EBADMSG);
}

TEST_CASE("an RTM_NEWROUTE too short to hold its rtmsg is not read (fuzz crash)") {
  // fuzz_route's input: a 19-byte RTM_NEWROUTE in 21 bytes; its rtmsg was read past the end.
  const std::vector<uint8_t> crash = {0x13, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x84, 0x84, 0x00, 0x68, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00};
  const auto d = decode_route_reply(crash, Family::v4);
  CHECK(d.interface_index == 0);
  CHECK_FALSE(d.local);
  CHECK(d.error == 0);
}

TEST_CASE("a last message whose padding runs past the reply ends the walk (fuzz crash)") {
  // fuzz_route's input: an RTM_NEWROUTE of 45 bytes in 46, so its padded length (48) passes
  // the end. The walk then went on past the reply (a negative remainder cast to unsigned):
  // here the bytes after the reply hold a route via interface 9 that must not be read.
  const std::vector<uint8_t> crash = {0x2d, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02, 0x08, 0x00,
                                      0x08, 0x00, 0x07, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x49, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00};
  REQUIRE(crash.size() == 46);
  const Reply beyond = route_via(9);
  std::vector<uint8_t> buffer = crash;
  buffer.resize(48);
  buffer.insert(buffer.end(), beyond.bytes.begin(), beyond.bytes.end());
  const auto d = decode_route_reply(std::span<const uint8_t>(buffer.data(), crash.size()), Family::v4);
  CHECK(d.interface_index == 0);
  CHECK(d.error == 0);
}
