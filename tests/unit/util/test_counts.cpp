#include <catch2/catch.hpp>

#include "tcpkit/util/counts.hpp"

using namespace tcpkit;

TEST_CASE("counts: singular for one, plural otherwise, thousands separated") {
  CHECK(count_of(1, "probe") == "1 probe");
  CHECK(count_of(0, "probe") == "0 probes");
  CHECK(count_of(2, "reply", "replies") == "2 replies");
  CHECK(count_of(1, "reply", "replies") == "1 reply");
  CHECK(count_of(65535, "port") == "65,535 ports");
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(18446744073709551615ULL) == "18,446,744,073,709,551,615");
}
