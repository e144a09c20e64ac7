#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "tcpkit/scan/scan_port_set.hpp"

using namespace tcpkit;

namespace {
// Every position and every port of the set against the sorted list it was made from.
void check_against(std::vector<uint16_t> ports) {
  const ScanPortSet set(ports);
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  REQUIRE(set.size() == ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    INFO("position " << i);
    REQUIRE(set.at(i) == ports[i]);
  }
  size_t next = 0;
  for (uint32_t p = 0; p <= 65535; ++p) {
    const auto index = set.index_of(uint16_t(p));
    if (next < ports.size() && ports[next] == p) {
      REQUIRE(index == next);
      ++next;
    } else {
      REQUIRE_FALSE(index);
    }
  }
}
}  // namespace

TEST_CASE("a port set finds the n-th port and a port's position like a sorted list") {
  std::vector<uint16_t> all;
  for (uint32_t p = 1; p <= 65535; ++p) all.push_back(uint16_t(p));
  check_against(all);                      // -p-
  check_against({80});
  check_against({0, 63, 64, 65535});       // word edges
  check_against({443, 22, 80, 22, 8080});  // unsorted, repeated
  check_against({1024, 1023, 1025, 1024});  // one range, unsorted, repeated: the contiguous shortcut
  std::vector<uint16_t> range;
  for (uint32_t p = 100; p <= 1100; ++p) range.push_back(uint16_t(p));
  check_against(range);
  range.erase(range.begin() + 500);  // one gap: no shortcut
  check_against(range);
  std::mt19937 rng(7);
  for (size_t n : {10u, 1000u, 30000u}) {
    std::vector<uint16_t> ports(n);
    for (auto& p : ports) p = uint16_t(rng());
    check_against(ports);
  }
  const ScanPortSet empty;
  CHECK(empty.empty());
  CHECK_FALSE(empty.index_of(80));
}
