// The kernel-RST guard's pure parts: table names with the pid, reading `nft list tables`,
// and the rule it installs. (Installing and removing are integration-tested as root.)
#include <catch2/catch.hpp>

#include "tcpkit/io/nft_guard.hpp"

using namespace tcpkit;

TEST_CASE("guard tables are named with the prefix and the pid", "[nft_guard]") {
  CHECK(guard_table_name(4242) == "tcpkit_stray_4242");
  CHECK(guard_table_pid("tcpkit_stray_4242") == 4242);
  CHECK_FALSE(guard_table_pid("tcpkit_stray_"));
  CHECK_FALSE(guard_table_pid("tcpkit_stray_12x"));
  CHECK_FALSE(guard_table_pid("tcpkit_stray_0"));
  CHECK_FALSE(guard_table_pid("tcpkit_stray_1234567890"));
  CHECK_FALSE(guard_table_pid("tcpkit_lab"));
  CHECK_FALSE(guard_table_pid("filter"));
}

TEST_CASE("nft list tables: only inet tables, names as written", "[nft_guard]") {
  const char* listing =
      "table inet tcpkit_lab\n"
      "table ip nat\n"
      "table inet tcpkit_stray_77\r\n"
      "table inet\n"
      "table ip6 tcpkit_stray_5\n"
      "garbage line\n"
      "table inet filter";
  const auto names = parse_nft_inet_tables(listing);
  REQUIRE(names.size() == 3);
  CHECK(names[0] == "tcpkit_lab");
  CHECK(names[1] == "tcpkit_stray_77");
  CHECK(names[2] == "filter");
  CHECK(parse_nft_inet_tables("").empty());
}

TEST_CASE("the guard drops unmarked RSTs to the peer only", "[nft_guard]") {
  NftGuardSpec v4{*IpAddress::parse("10.1.2.3"), 8080, kStrayPacketMark};
  const std::string rules = guard_ruleset("tcpkit_stray_9", v4);
  CHECK(rules.find("table inet tcpkit_stray_9 {") != std::string::npos);
  CHECK(rules.find("hook output") != std::string::npos);
  CHECK(rules.find("ip daddr 10.1.2.3 tcp dport 8080 tcp flags & rst == rst meta mark != 0x74637374 counter drop") !=
        std::string::npos);
  // A leftover table of the same name is replaced, not an error.
  CHECK(rules.find("delete table inet tcpkit_stray_9") < rules.find("table inet tcpkit_stray_9 {"));
  NftGuardSpec v6{*IpAddress::parse("fd00::2"), 443, 1};
  CHECK(guard_ruleset("t", v6).find("ip6 daddr fd00::2 tcp dport 443 tcp flags & rst == rst meta mark != 0x00000001") !=
        std::string::npos);
}
