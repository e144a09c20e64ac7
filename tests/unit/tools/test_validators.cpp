#include <catch2/catch.hpp>

#include "common/validators.hpp"

using namespace tcpkit::cli;
using std::chrono::microseconds;

TEST_CASE("durations parse with units, a bare number is seconds") {
  CHECK(parse_duration("1").value() == microseconds(1'000'000));
  CHECK(parse_duration("0.2").value() == microseconds(200'000));
  CHECK(parse_duration("250ms").value() == microseconds(250'000));
  CHECK(parse_duration("500us").value() == microseconds(500));
  CHECK(parse_duration("0.5ms").value() == microseconds(500));
  CHECK(parse_duration("2s").value() == microseconds(2'000'000));
  CHECK(parse_duration("1m").value() == microseconds(60'000'000));
  CHECK(parse_duration("0").value() == microseconds(0));
}

TEST_CASE("bad durations are refused with a sentence") {
  for (const char* bad : {"", "-1", "abc", "1x", "1..2", ".", "1e3", "2d", "ms", "99999999"}) {
    INFO(bad);
    auto r = parse_duration(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == tcpkit::ErrorCode::bad_input);
    CHECK(r.error().message.find("invalid duration") != std::string::npos);
  }
}

TEST_CASE("counts are positive whole numbers within a bound") {
  CHECK(parse_count("1", 10).value() == 1);
  CHECK(parse_count("10", 10).value() == 10);
  for (const char* bad : {"0", "11", "-1", "1.5", "", "x", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_count(bad, 10));
  }
}
