#include <catch2/catch.hpp>

#include "tcpkit/scan/scan_drops.hpp"

using namespace tcpkit;

TEST_CASE("a collapse is the last quarter far below the first, not chance") {
  CHECK_FALSE(answers_collapsed({10, 10, 10, 2}));     // too few to tell
  CHECK_FALSE(answers_collapsed({100, 95, 104, 90}));  // a random order's usual spread
  CHECK_FALSE(answers_collapsed({100, 80, 80, 75}));   // 25 below: under 4 sigma (~26)
  CHECK(answers_collapsed({100, 60, 20, 10}));
  CHECK(answers_collapsed({400, 100, 100, 100}));  // a firewall's burst, then its rate
}

TEST_CASE("a retry round shows drops when it finds answers the first tries missed") {
  CHECK_FALSE(retry_found_drops({200, 0, 1000}));   // filtered ports never answer a retry
  CHECK_FALSE(retry_found_drops({200, 2, 1000}));   // too few
  CHECK_FALSE(retry_found_drops({1000, 20, 1000}));  // 2 %
  CHECK(retry_found_drops({200, 60, 1000}));
}

TEST_CASE("later rounds slow down to a quarter, not below the floor") {
  CHECK(slower_rate(1000, 100) == 250);
  CHECK(slower_rate(250, 100) == 100);
  CHECK(slower_rate(100, 100) == 100);
  CHECK(slower_rate(1000, 1000) == 1000);  // --min-rate = --rate: fixed
  CHECK(slower_rate(1000, 5000) == 1000);
}

TEST_CASE("judging drops: answers that came only on retry") {
  // 300 closed ports behind `limit rate over 100/second`, probed at 400/s: 85 answer round 0.
  const auto limited = judge_drops({{300, 85, 400}, {215, 64, 400}, {151, 60, 100}}, {29, 19, 18, 19}, 400);
  REQUIRE(limited.reasons.size() == 2);  // the late share, and the last round still finding
  CHECK(limited.reasons[0].find("124 of 209 answers (59 %) came only in retry rounds") != std::string::npos);
  CHECK(limited.reasons[1].find("last retry round still found 60") != std::string::npos);
  CHECK(limited.suggested_rate == 50);
  // Plain 10 % loss each way brings ~19 % of the answers late: not a sign on its own.
  const auto lossy = judge_drops({{500, 397, 3000}, {103, 83, 750}, {20, 1, 187}}, {99, 100, 98, 100}, 3000);
  CHECK(lossy.reasons.empty());
  CHECK(lossy.suggested_rate == 0);
  // A clean run: everything answered the first time.
  CHECK(judge_drops({{300, 292, 50}, {8, 0, 50}, {8, 0, 50}}, {73, 73, 73, 73}, 50).reasons.empty());
}

TEST_CASE("judging drops: a collapse within round 1") {
  const auto banned = judge_drops({{4000, 300, 10000}}, {250, 40, 5, 5}, 10000);
  REQUIRE(banned.reasons.size() == 1);
  CHECK(banned.reasons[0].find("collapsed") != std::string::npos);
  CHECK(banned.suggested_rate == 2500);
}
