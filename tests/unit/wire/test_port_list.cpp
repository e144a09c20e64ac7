#include <catch2/catch.hpp>

#include <algorithm>

#include "tcpkit/wire/port_list.hpp"

using namespace tcpkit;
using Ports = std::vector<uint16_t>;

TEST_CASE("port lists: single ports, ranges, open ranges, all") {
  CHECK(parse_port_list("22").value() == Ports{22});
  CHECK(parse_port_list("80,22,80").value() == Ports{22, 80});
  CHECK(parse_port_list("8000-8003,1").value() == Ports{1, 8000, 8001, 8002, 8003});
  CHECK(parse_port_list("-3").value() == Ports{1, 2, 3});
  CHECK(parse_port_list("65533-").value() == Ports{65533, 65534, 65535});
  const auto all = parse_port_list("-").value();
  CHECK(all.size() == 65535);
  CHECK(all.front() == 1);
  CHECK(all.back() == 65535);
  CHECK(parse_port_list("1-65535").value() == all);
  CHECK(parse_port_list("5-5").value() == Ports{5});
}

TEST_CASE("port lists take service names") {
  // /etc/services is part of Debian's base system (netbase); ssh is 22 there.
  CHECK(parse_port_list("ssh,80").value() == Ports{22, 80});
}

TEST_CASE("bad port lists are refused with a sentence quoting the item") {
  for (const char* bad : {"", "0", "65536", "22,", ",22", "22,,80", "80-22", "1-2-3", "abc-def", "nosuchservice",
                          "22;80", "99999999", "-0", "0-5", " 22", "1e3"}) {
    INFO("'" << bad << "'");
    auto r = parse_port_list(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_input);
    CHECK_FALSE(r.error().message.empty());
    CHECK(r.error().message.find('\n') == std::string::npos);
  }
  CHECK(parse_port_list("80-22").error().message.find("80-22") != std::string::npos);
}

TEST_CASE("the default set is sorted, unique and holds the usual suspects") {
  const auto& d = default_scan_ports();
  CHECK(d.size() >= 100);
  CHECK(std::is_sorted(d.begin(), d.end()));
  CHECK(std::adjacent_find(d.begin(), d.end()) == d.end());
  for (uint16_t p : {22, 80, 443, 3389, 8080}) CHECK(std::binary_search(d.begin(), d.end(), p));
}

TEST_CASE("compress_ports writes runs as ranges") {
  CHECK(compress_ports({}) == "");
  CHECK(compress_ports({22}) == "22");
  CHECK(compress_ports({1, 2, 3, 5, 7, 8}) == "1-3,5,7-8");
  CHECK(parse_port_list(compress_ports(default_scan_ports())).value() == default_scan_ports());
}

TEST_CASE("port_runs gives each run of a sorted list as first and last") {
  using Runs = std::vector<std::pair<uint16_t, uint16_t>>;
  CHECK(port_runs({}).empty());
  CHECK(port_runs({22}) == Runs{{22, 22}});
  CHECK(port_runs({1, 2, 3, 5, 7, 8, 65535}) == Runs{{1, 3}, {5, 5}, {7, 8}, {65535, 65535}});
}
