#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include "tcpkit/wire/target_set.hpp"

using namespace tcpkit;

namespace {
// No DNS in unit tests: a resolver that knows two names.
Result<std::vector<IpAddress>> fake_resolver(const std::string& host, Family family) {
  std::vector<IpAddress> out;
  if (host == "dual.test") {
    if (family != Family::v4) out.push_back(*IpAddress::parse("2001:db8::5"));
    if (family != Family::v6) out.push_back(*IpAddress::parse("192.0.2.5"));
  } else if (host == "v6only.test") {
    if (family != Family::v4) out.push_back(*IpAddress::parse("2001:db8::6"));
  } else {
    return fail(ErrorCode::bad_input, "cannot resolve '" + host + "'");
  }
  if (out.empty()) return fail(ErrorCode::bad_input, "no address for '" + host + "'");
  return out;
}

TargetSet make(std::initializer_list<const char*> add, std::initializer_list<const char*> exclude = {},
               TargetOptions options = {}) {
  TargetSet set(options, fake_resolver);
  for (auto t : add) REQUIRE(set.add(t));
  for (auto t : exclude) REQUIRE(set.exclude(t));
  REQUIRE(set.finalize());
  return set;
}

std::vector<std::string> all(const TargetSet& s) {
  std::vector<std::string> out;
  for (uint64_t i = 0; i < s.size(); ++i) out.push_back(s.at(i).to_string());
  return out;
}

using Strings = std::vector<std::string>;
}  // namespace

TEST_CASE("literals, ranges and blocks") {
  CHECK(all(make({"192.0.2.7"})) == Strings{"192.0.2.7"});
  CHECK(all(make({"10.0.0.1-3"})) == Strings{"10.0.0.1", "10.0.0.2", "10.0.0.3"});
  CHECK(all(make({"10.0.0.254-10.0.1.1"})) == Strings{"10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"});
  CHECK(all(make({"10.0.0.0/30"})) == Strings{"10.0.0.1", "10.0.0.2"});  // network and broadcast left out
  CHECK(make({"10.0.0.0/30"}).skipped_special() == 2);
  CHECK(all(make({"10.0.0.0/31"})) == Strings{"10.0.0.0", "10.0.0.1"});
  CHECK(make({"10.0.0.0/24"}).size() == 254);
  CHECK(make({"10.1.0.0/16"}, {}, TargetOptions{Family::any, true}).size() == 65536);
  CHECK(all(make({"2001:db8::1-3"})) == Strings{"2001:db8::1", "2001:db8::2", "2001:db8::3"});
  CHECK(all(make({"[2001:db8::9]"})) == Strings{"2001:db8::9"});
  // An IPv4-mapped address is its IPv4 host (-4 takes it; -6 does not).
  CHECK(all(make({"::ffff:192.0.2.7"})) == Strings{"192.0.2.7"});
  CHECK(all(make({"[::ffff:192.0.2.7]"}, {}, TargetOptions{Family::v4, false})) == Strings{"192.0.2.7"});
  CHECK_FALSE(TargetSet(TargetOptions{Family::v6, false}, fake_resolver).add("::ffff:192.0.2.7"));
  // ... and so are mapped ranges and blocks (found: "no route to ::ffff:10.0.0.2", exit 4).
  CHECK(all(make({"::ffff:10.0.0.2-3"})) == Strings{"10.0.0.2", "10.0.0.3"});
  CHECK(all(make({"::ffff:10.0.0.2-::ffff:10.0.0.3"})) == Strings{"10.0.0.2", "10.0.0.3"});
  CHECK(all(make({"::ffff:10.0.0.0/126"})) == Strings{"10.0.0.1", "10.0.0.2"});  // an IPv4 /30's hosts
  CHECK(all(make({"10.0.0.0/30"}, {"::ffff:10.0.0.2"})) == Strings{"10.0.0.1"});
  CHECK(all(make({"2001:db8::/126"})) == Strings{"2001:db8::1", "2001:db8::2", "2001:db8::3"});
  CHECK(make({"2001:db8::/96"}).size() == (uint64_t(1) << 32) - 1);
}

TEST_CASE("overlaps merge, IPv4 sorts before IPv6, names resolve") {
  const auto s = make({"2001:db8::1", "10.0.0.5", "10.0.0.1-6", "10.0.0.3", "dual.test", "v6only.test"});
  CHECK(all(s) == Strings{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "192.0.2.5",
                          "2001:db8::1", "2001:db8::6"});
  CHECK(s.has_family(Family::v4));
  CHECK(s.has_family(Family::v6));
  CHECK(all(make({"dual.test"}, {}, TargetOptions{Family::v6, false})) == Strings{"2001:db8::5"});
}

TEST_CASE("exclusions cut ranges anywhere") {
  CHECK(all(make({"10.0.0.1-10"}, {"10.0.0.3-4", "10.0.0.10", "10.0.0.1", "192.0.2.1"})) ==
        Strings{"10.0.0.2", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9"});
  CHECK(make({"10.0.0.0/24"}, {"10.0.0.0/25"}).size() == 127);
  CHECK(all(make({"10.0.0.1-3", "2001:db8::1-2"}, {"2001:db8::2", "dual.test"})) ==
        Strings{"10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1"});
  TargetSet empty({}, fake_resolver);
  REQUIRE(empty.add("10.0.0.1-2"));
  REQUIRE(empty.exclude("10.0.0.0/24"));
  REQUIRE(empty.finalize());
  CHECK(empty.empty());
}

TEST_CASE("index_of inverts at, and misses return nothing") {
  const auto s = make({"10.0.0.1-20", "10.0.5.0/28", "2001:db8::100-2001:db8::1ff"}, {"10.0.0.7"});
  for (uint64_t i = 0; i < s.size(); ++i) REQUIRE(s.index_of(s.at(i)) == i);
  CHECK_FALSE(s.index_of(*IpAddress::parse("10.0.0.7")));
  CHECK_FALSE(s.index_of(*IpAddress::parse("10.0.0.21")));
  CHECK_FALSE(s.index_of(*IpAddress::parse("10.0.5.0")));  // the skipped network address
  CHECK_FALSE(s.index_of(*IpAddress::parse("2001:db8::200")));
  CHECK_FALSE(s.index_of(*IpAddress::parse("::ffff:10.0.0.1")));
}

TEST_CASE("special addresses are refused unless allowed") {
  for (const char* t : {"224.0.0.1", "239.1.2.3", "255.255.255.255", "0.0.0.0", "ff02::1", "::", "0.0.0.0/0",
                        "223.255.255.250-224.0.0.1"}) {
    INFO(t);
    TargetSet s({}, fake_resolver);
    REQUIRE(s.add(t));
    auto r = s.finalize();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_input);
    CHECK(r.error().message.find("--allow-broadcast") != std::string::npos);
    TargetSet allowed(TargetOptions{Family::any, true}, fake_resolver);
    REQUIRE(allowed.add(t));
    CHECK(allowed.finalize());
  }
  // Excluding the special part makes the rest scannable.
  TargetSet s({}, fake_resolver);
  REQUIRE(s.add("223.255.255.250-224.0.0.1"));
  REQUIRE(s.exclude("224.0.0.0/4"));
  REQUIRE(s.finalize());
  CHECK(s.size() == 6);
}

TEST_CASE("bad targets are refused with one sentence") {
  for (const char* t : {"", "10.0.0.1-", "10.0.0.5-4", "10.0.0.1-256", "10.0.0.1-x", "10.0.0.0/33", "10.0.0.0/",
                        "2001:db8::/64", "2001:db8::1-10.0.0.1", "nosuch.test", "bad name", "-x", "10.0.0.1/a",
                        "2001:db8::5-2", "[10.0.0.1", "1.2.3.4.5"}) {
    INFO("'" << t << "'");
    TargetSet s({}, fake_resolver);
    auto r = s.add(t);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_input);
    CHECK(r.error().message.find('\n') == std::string::npos);
  }
  TargetSet v4(TargetOptions{Family::v4, false}, fake_resolver);
  CHECK_FALSE(v4.add("2001:db8::1"));
  CHECK_FALSE(v4.add("v6only.test"));
  TargetSet v6(TargetOptions{Family::v6, false}, fake_resolver);
  CHECK_FALSE(v6.add("10.0.0.0/24"));
}

TEST_CASE("more than 2^32 addresses is refused") {
  TargetSet s({}, fake_resolver);
  REQUIRE(s.add("2001:db8::/96"));
  REQUIRE(s.add("2001:db8:1::/96"));
  CHECK_FALSE(s.finalize());
}

TEST_CASE("target files: white space, commas and comments") {
  char path[] = "/tmp/tcpscan_targets_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "# lab hosts\n10.0.0.1, 10.0.0.2\t10.0.0.0/30 # trailing comment\n\n2001:db8::1\n";
  }
  auto tokens = read_target_file(path);
  std::remove(path);
  REQUIRE(tokens);
  CHECK(*tokens == std::vector<TargetToken>{{"10.0.0.1", 2}, {"10.0.0.2", 2}, {"10.0.0.0/30", 2}, {"2001:db8::1", 4}});
  auto missing = read_target_file("/nonexistent/targets.txt");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::bad_input);
}
