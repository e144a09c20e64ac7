#include <catch2/catch.hpp>

#include <set>

#include "tcpkit/scan/scan_plan.hpp"

using namespace tcpkit;

namespace {
TargetSet targets(std::initializer_list<const char*> tokens) {
  TargetSet s;
  for (auto t : tokens) REQUIRE(s.add(t));
  REQUIRE(s.finalize());
  return s;
}
}  // namespace

TEST_CASE("a plan visits every (host, port) exactly once and maps replies back") {
  const auto t = targets({"10.0.0.1-5", "2001:db8::1-3"});
  const std::vector<uint16_t> ports = {22, 80, 443, 8080};
  auto plan = ScanPlan::make(t, ports, 11, Shard{});
  REQUIRE(plan);
  REQUIRE(plan->length() == 8 * 4);
  std::set<std::pair<std::string, uint16_t>> seen;
  for (uint64_t k = 0; k < plan->length(); ++k) {
    const auto p = plan->probe(k);
    CHECK(t.at(p.host_index) == p.address);
    seen.emplace(p.address.to_string(), p.port);
    CHECK(plan->local_index(p.address, p.port) == k);
  }
  CHECK(seen.size() == 32);
  CHECK_FALSE(plan->local_index(*IpAddress::parse("10.0.0.6"), 22));
  CHECK_FALSE(plan->local_index(*IpAddress::parse("10.0.0.1"), 23));
}

TEST_CASE("shards of a plan split it exactly") {
  const auto t = targets({"10.0.0.0/26"});
  const auto& ports = std::vector<uint16_t>{1, 2, 3, 4, 5, 6, 7};
  std::set<std::pair<std::string, uint16_t>> seen;
  uint64_t total = 0;
  for (uint64_t i = 1; i <= 3; ++i) {
    auto plan = ScanPlan::make(t, ports, 99, Shard{i, 3});
    REQUIRE(plan);
    total += plan->length();
    for (uint64_t k = 0; k < plan->length(); ++k) {
      const auto p = plan->probe(k);
      CHECK(seen.emplace(p.address.to_string(), p.port).second);
      CHECK(plan->local_index(p.address, p.port) == k);
    }
  }
  CHECK(total == 62 * 7);
  CHECK(seen.size() == 62 * 7);
}

TEST_CASE("empty scans are refused") {
  const auto t = targets({"10.0.0.1"});
  CHECK_FALSE(ScanPlan::make(t, {}, 1, Shard{}));
  CHECK_FALSE(ScanPlan::make(t, {2, 1}, 1, Shard{}));
}
