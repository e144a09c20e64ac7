#include <catch2/catch.hpp>

#include "tcpkit/wire/ip_address.hpp"

using namespace tcpkit;

TEST_CASE("addresses parse, print and classify") {
  auto a = IpAddress::parse("192.0.2.1");
  REQUIRE(a);
  CHECK(a->is_v4());
  CHECK(a->to_string() == "192.0.2.1");
  CHECK(a->to_string_with_port(80) == "192.0.2.1:80");
  CHECK(a->v4_host_order() == 0xc0000201u);
  auto b = IpAddress::parse("2001:db8::1");
  REQUIRE(b);
  CHECK(b->to_string_with_port(443) == "[2001:db8::1]:443");
  CHECK(IpAddress::parse("127.0.0.9")->is_loopback());
  CHECK(IpAddress::parse("::1")->is_loopback());
  CHECK(IpAddress::parse("224.0.0.1")->is_multicast());
  CHECK(IpAddress::parse("ff02::1")->is_multicast());
  CHECK(IpAddress::parse("0.0.0.0")->is_unspecified());
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "::g", "example.com", "[::1]", "1.2.3.4/24"}) {
    INFO(bad);
    CHECK_FALSE(IpAddress::parse(bad));
  }
  socklen_t length = 0;
  auto ss = b->to_sockaddr(443, &length);
  CHECK(*IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)) == *b);
}

TEST_CASE("an IPv4 address maps to ::ffff:a.b.c.d and back; IPv6 stays as it is") {
  const auto v4 = *IpAddress::parse("10.1.2.3");
  CHECK(v4.mapped() == *IpAddress::parse("::ffff:10.1.2.3"));
  CHECK(v4.mapped().is_v6());
  CHECK(v4.mapped().unmapped() == v4);
  CHECK(IpAddress::parse("2001:db8::1")->mapped() == *IpAddress::parse("2001:db8::1"));
  CHECK(IpAddress::parse("::ffff:10.1.2.3")->mapped() == *IpAddress::parse("::ffff:10.1.2.3"));
  CHECK(IpAddress::parse("::fffe:10.1.2.3")->unmapped() == *IpAddress::parse("::fffe:10.1.2.3"));
}

TEST_CASE("CIDR blocks clear host bits and test membership") {
  auto c = Cidr::parse("10.1.2.3/8");
  REQUIRE(c);
  CHECK(c->to_string() == "10.0.0.0/8");
  CHECK(c->contains(*IpAddress::parse("10.255.0.1")));
  CHECK_FALSE(c->contains(*IpAddress::parse("11.0.0.1")));
  CHECK_FALSE(c->contains(*IpAddress::parse("::1")));
  auto v6 = Cidr::parse("2001:db8::/32");
  REQUIRE(v6);
  CHECK(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
  CHECK_FALSE(v6->contains(*IpAddress::parse("2001:db9::1")));
  CHECK(Cidr::parse("192.0.2.1")->prefix == 32);
  CHECK(Cidr::parse("10.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "nope/8", "10.0.0.0/-1"}) {
    INFO(bad);
    CHECK_FALSE(Cidr::parse(bad));
  }
}
