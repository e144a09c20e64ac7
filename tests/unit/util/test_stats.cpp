#include <catch2/catch.hpp>

#include "tcpkit/util/stats.hpp"

using namespace tcpkit;
using Catch::Detail::Approx;

TEST_CASE("summary of a known sample matches hand calculation") {
  Samples s;
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(v);
  const auto r = s.summary();
  CHECK(r.count == 4);
  CHECK(r.min == 1.0);
  CHECK(r.max == 4.0);
  CHECK(r.avg == Approx(2.5));
  CHECK(r.mdev == Approx(1.118034).epsilon(1e-6));  // sqrt(1.25), like ping
  CHECK(r.p50 == Approx(2.5));
  CHECK(r.p90 == Approx(3.7));
  CHECK(r.p99 == Approx(3.97));
}

TEST_CASE("edge cases: empty, one sample, identical samples") {
  CHECK(Samples().summary().count == 0);
  Samples one;
  one.add(7);
  CHECK(one.summary().p99 == 7);
  CHECK(one.summary().mdev == 0);
  Samples same;
  for (int i = 0; i < 1000; ++i) same.add(0.1);
  CHECK(same.summary().mdev == Approx(0).margin(1e-12));
  CHECK(same.summary().avg == Approx(0.1));
}

TEST_CASE("percentiles interpolate between closest ranks") {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  CHECK(percentile(v, 0) == 1);
  CHECK(percentile(v, 100) == 100);
  CHECK(percentile(v, 50) == Approx(50.5));
  CHECK(percentile(v, 99) == Approx(99.01));
}
