#include <catch2/catch.hpp>

#include "tcpkit/rate.hpp"

using namespace tcpkit;

TEST_CASE("a full bucket grants its burst at once, then nothing") {
  TokenBucket b(1000, 10);
  CHECK(b.take(100, 0) == 10);
  CHECK(b.take(1, 0) == 0);
}

TEST_CASE("tokens refill at the rate and never beyond the burst") {
  TokenBucket b(1000, 10);  // one token per millisecond
  b.take(10, 0);
  CHECK(b.take(100, 500'000) == 0);      // half a token
  CHECK(b.take(100, 1'000'000) == 1);    // one ms later: one
  CHECK(b.take(100, 4'000'000) == 3);
  CHECK(b.take(100, 1'000'000'000) == 10);  // a long pause still gives only the burst
}

TEST_CASE("over a long run the grant rate equals the rate") {
  TokenBucket b(50'000, 64);
  uint64_t granted = 0;
  int64_t now = 0;
  for (int step = 0; step < 100'000; ++step) {  // 1 s in 10 us steps
    now += 10'000;
    granted += b.take(64, now);
  }
  CHECK(granted >= 50'000);
  CHECK(granted <= 50'000 + 64);
}

TEST_CASE("wait_ns says when the next tokens arrive") {
  TokenBucket b(1000, 10);
  b.take(10, 0);
  CHECK(b.wait_ns(1, 0) == 1'000'000);
  CHECK(b.wait_ns(5, 0) == 5'000'000);
  CHECK(b.wait_ns(50, 0) == 10'000'000);  // capped at the burst
  CHECK(b.wait_ns(1, 1'000'000) == 0);
}

TEST_CASE("a clock that steps back grants nothing extra") {
  TokenBucket b(1000, 10);
  b.take(10, 5'000'000);
  CHECK(b.take(10, 1'000'000) == 0);
  CHECK(b.take(10, 6'000'000) == 1);
}
