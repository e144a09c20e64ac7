#include <catch2/catch.hpp>

#include "tcpkit/wire/endpoint.hpp"

#include <netdb.h>

using namespace tcpkit;

namespace {
struct Good {
  const char* text;
  const char* host;
  int port;  // -1: none
};
}  // namespace

TEST_CASE("targets users write are split into host and port") {
  const Good cases[] = {
      {"example.com", "example.com", -1},
      {"example.com:80", "example.com", 80},
      {"example.com:https", "example.com", 443},
      {"example.com:ssh", "example.com", 22},
      {"localhost:http", "localhost", 80},
      {"192.0.2.1", "192.0.2.1", -1},
      {"192.0.2.1:8080", "192.0.2.1", 8080},
      {"192.0.2.1:65535", "192.0.2.1", 65535},
      {"192.0.2.1:1", "192.0.2.1", 1},
      {"[2001:db8::1]:443", "2001:db8::1", 443},
      {"[2001:db8::1]", "2001:db8::1", -1},
      {"[::1]:https", "::1", 443},
      {"2001:db8::1", "2001:db8::1", -1},
      {"::1", "::1", -1},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1", -1},
      {"fe80::1", "fe80::1", -1},
      {"a-b.c_d.example", "a-b.c_d.example", -1},
      {"host.:22", "host.", 22},
      {"x:00080", "x", 80},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto spec = parse_target(c.text);
    REQUIRE(spec);
    CHECK(spec->host == c.host);
    CHECK(spec->text == c.text);
    if (c.port < 0) CHECK_FALSE(spec->port);
    else CHECK(spec->port == uint16_t(c.port));
  }
}

TEST_CASE("bad targets are refused with a sentence that quotes them") {
  const char* bad[] = {
      "",                      // empty
      ":80",                   // no host
      "host:",                 // no port after ':'
      "host:0",                // port 0
      "host:65536",            // too large
      "host:99999999",         // far too large
      "host:-1",               // negative
      "host:nosuchservice",    // unknown service
      "host:80x",              // junk in port
      "[2001:db8::1",          // missing ]
      "[2001:db8::1]80",       // missing ':'
      "[192.0.2.1]:80",        // IPv4 in brackets
      "[]:80",                 // empty brackets
      "[not-v6]:80",           // name in brackets
      "2001:db8::zz",          // bad IPv6
      "[2001:db8::1%eth0]:80", // a zone on a global address
      "2001:db8::1%eth0",      // the same, bare
      "[fe80::1%]:80",         // empty zone
      "fe80::1%",              // empty zone, bare
      "[fe80::1%a/b]:80",      // not an interface name
      "[fe80::1%averyveryverylongname]:80",  // longer than IFNAMSIZ-1
      "[fe80::1%eth0:80",      // missing ]
      "host name",             // white space
      "host\t:80",             // tab
      "exa$mple.com",          // bad character
      "host:80:90",            // two colons that are not IPv6
      "a..b",                  // empty label
      ".example",              // leading dot
      "host]:80",              // stray bracket
      "[::1]:",                // missing port after bracket
      "[::1]:0",               // port 0 after bracket
  };
  for (const char* text : bad) {
    INFO(text);
    auto spec = parse_target(text);
    REQUIRE_FALSE(spec);
    CHECK(spec.error().code == ErrorCode::bad_input);
    CHECK(spec.error().message.find("invalid target") == 0);
    CHECK(spec.error().message.find('\n') == std::string::npos);
  }
}

TEST_CASE("a link-local target carries its zone, bracketed or bare") {
  auto bracketed = parse_target("[fe80::1%eth0]:22");
  REQUIRE(bracketed);
  CHECK(bracketed->host == "fe80::1");
  CHECK(bracketed->zone == "eth0");
  CHECK(bracketed->port == uint16_t(22));
  auto bare = parse_target("fe80::1%tkc0");
  REQUIRE(bare);
  CHECK(bare->host == "fe80::1");
  CHECK(bare->zone == "tkc0");
  CHECK_FALSE(bare->port);
  auto plain = parse_target("[fe80::1]:22");
  REQUIRE(plain);
  CHECK(plain->zone.empty());
  CHECK(IpAddress::parse("fe80::1")->is_link_local());
  CHECK(IpAddress::parse("febf::1")->is_link_local());
  CHECK_FALSE(IpAddress::parse("fec0::1")->is_link_local());
  CHECK_FALSE(IpAddress::parse("2001:db8::1")->is_link_local());
  CHECK_FALSE(IpAddress::parse("10.0.0.1")->is_link_local());
}

TEST_CASE("ports are numbers or service names") {
  CHECK(parse_port("80").value() == 80);
  CHECK(parse_port("https").value() == 443);
  CHECK(parse_port("domain").value() == 53);
  CHECK_FALSE(parse_port("0"));
  CHECK_FALSE(parse_port("65536"));
  CHECK_FALSE(parse_port(""));
  CHECK_FALSE(parse_port("-http"));
  CHECK_FALSE(parse_port("no-such-service-anywhere"));
  CHECK(parse_port("no-such-service-anywhere").error().message.find("unknown service") != std::string::npos);
}

TEST_CASE("literals resolve without a lookup and respect -4/-6") {
  CHECK(resolve_host("192.0.2.7", Family::any).value().front().to_string() == "192.0.2.7");
  CHECK(resolve_host("2001:db8::7", Family::v6).value().front().to_string() == "2001:db8::7");
  CHECK_FALSE(resolve_host("192.0.2.7", Family::v6));
  // An IPv4-mapped address (ss shows a dual-stack socket's IPv4 peers so) is the IPv4 host: a
  // raw IPv6 packet to it went nowhere, and the tools ended with "no route", exit 4.
  CHECK(resolve_host("::ffff:192.0.2.7", Family::any).value().front().to_string() == "192.0.2.7");
  CHECK(resolve_host("::ffff:192.0.2.7", Family::v4).value().front().to_string() == "192.0.2.7");
  const auto mapped_v6 = resolve_host("::ffff:192.0.2.7", Family::v6);
  REQUIRE_FALSE(mapped_v6);
  CHECK(mapped_v6.error().message == "'::ffff:192.0.2.7' is an IPv4-mapped address but -6 was given");
  CHECK_FALSE(resolve_host("2001:db8::7", Family::v4));
  // localhost comes from /etc/hosts, no network needed.
  auto local = resolve_host("localhost", Family::v4);
  REQUIRE(local);
  CHECK(local->front().is_loopback());
  auto bad = resolve_host("no-such-host.invalid", Family::any);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("cannot resolve") == 0);
}

TEST_CASE("text that is almost an IPv4 address never reaches the resolver") {
  // getaddrinfo would read each of these by inet_aton's rules as some other host (10.1.0.2,
  // octal 8.0.0.1, 127.0.0.1, ...) and probes would go there.
  for (const char* text : {"10.1.2", "010.0.0.1", "10.0.0.010", "0x7f.0.0.1", "127.1", "2130706433", "256.1.1.1",
                           "1.2.3.4.5", "host.123"}) {
    INFO(text);
    auto r = resolve_host(text, Family::any);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_input);
    CHECK(r.error().message.find("is not an IPv4 address: ") != std::string::npos);
  }
  CHECK(resolve_host("010.0.0.1", Family::v4).error().message.find("leading zeros") != std::string::npos);
  CHECK(resolve_host("0x7f.0.0.1", Family::v4).error().message.find("hex") != std::string::npos);
  CHECK(resolve_host("10.1.2", Family::v4).error().message.find("all four numbers") != std::string::npos);
  CHECK(resolve_host("256.1.1.1", Family::v4).error().message.find("0 to 255") != std::string::npos);
  // Names that merely contain digits are names.
  CHECK(resolve_host("localhost", Family::v4));
}

TEST_CASE("a failing resolver is a system error, an unknown name bad input") {
  CHECK(resolver_error_code(EAI_AGAIN) == ErrorCode::system);
  CHECK(resolver_error_code(EAI_FAIL) == ErrorCode::system);
  CHECK(resolver_error_code(EAI_SYSTEM) == ErrorCode::system);
  CHECK(resolver_error_code(EAI_MEMORY) == ErrorCode::system);
  CHECK(resolver_error_code(EAI_NONAME) == ErrorCode::bad_input);
  CHECK(resolver_error_code(EAI_SERVICE) == ErrorCode::bad_input);
  CHECK(resolver_error_code(EAI_FAMILY) == ErrorCode::bad_input);
}

TEST_CASE("a bare IPv6 address whose last group reads like a port is flagged, still an address") {
  const auto t = parse_target("fd00:1::2:80");
  REQUIRE(t);
  CHECK(t->host == "fd00:1::2:80");
  CHECK_FALSE(t->port);
  REQUIRE(t->port_lookalike);
  CHECK(*t->port_lookalike == "fd00:1::2");
  CHECK_FALSE(parse_target("fd00:1::2")->port_lookalike);              // ends in "::2": one group, no port
  CHECK_FALSE(parse_target("fd00:1::2:ab")->port_lookalike);           // hex, not a port
  CHECK_FALSE(parse_target("[fd00:1::2]:80")->port_lookalike);         // written with brackets
  CHECK_FALSE(parse_target("2001:db8:1:2:3:4:5:80")->port_lookalike);  // no "::": eight groups, unambiguous
  CHECK_FALSE(parse_target("fd00::80")->port_lookalike);               // "fd00:" is no address
}
