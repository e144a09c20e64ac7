#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "tcpkit/util/rate.hpp"

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

TEST_CASE("pacing: no batches at low rates, batches of at most 1 ms of the rate above") {
  CHECK(pacing_for(20, 64).batch == 1);
  CHECK(pacing_for(200, 64).batch == 1);
  CHECK(pacing_for(1999, 64).batch == 1);
  CHECK(pacing_for(10'000, 64).batch == 10);
  CHECK(pacing_for(100'000, 64).batch == 64);
  CHECK(pacing_for(400'000, 64).batch == 64);
  CHECK(pacing_for(400'000, 8).batch == 8);
  const auto low = pacing_for(200, 64);
  CHECK(low.burst == 1);
  CHECK(low.rate == 200);
  CHECK(pacing_for(1'000, 64).burst == 2);  // one token of catch-up, paid for by 10/s
  CHECK(pacing_for(1'000, 64).rate == 990);
  // High rates keep their speed: the bucket gives back at most 4 %.
  for (double r : {400.0, 1'000.0, 2'000.0, 10'000.0, 100'000.0, 400'000.0}) CHECK(pacing_for(r, 64).rate >= 0.96 * r);
}

// A sender driven by fake time: waits for a whole batch's tokens, "sends" each batch, and may
// be held up (as a busy machine does) before its syscall. Returns the send times.
static std::vector<int64_t> simulate(double asked, size_t max_batch, uint64_t probes, uint64_t seed) {
  const Pacing p = pacing_for(asked, max_batch);
  TokenBucket bucket(p.rate, p.burst);
  std::vector<int64_t> times;
  int64_t now = 0;
  uint64_t x = seed;
  while (times.size() < probes) {
    const uint64_t n = std::min<uint64_t>(p.batch, probes - times.size());
    now += bucket.wait_ns(n, now);
    REQUIRE(bucket.take(n, now) == n);
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t held = (x >> 60) == 0 ? int64_t((x >> 20) % 30'000'000) : 0;  // 1 in 16: up to 30 ms late
    for (uint64_t i = 0; i < n; ++i) times.push_back(now + held + int64_t(i) * 1000);  // 1 us per packet
    now += held + int64_t(n) * 1000;
  }
  return times;
}

static uint64_t most_in_window(const std::vector<int64_t>& times, int64_t window_ns) {
  uint64_t best = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window_ns) ++lo;
    best = std::max<uint64_t>(best, hi - lo + 1);
  }
  return best;
}

TEST_CASE("pacing: any 100 ms holds at most rate/10 + 2 probes, even with a late sender") {
  for (double asked : {20.0, 50.0, 200.0, 399.0, 400.0, 1'000.0, 1'999.0, 2'500.0, 10'000.0, 100'000.0, 400'000.0}) {
    const uint64_t probes = uint64_t(std::min(asked * 3, 200'000.0));
    for (uint64_t seed : {1, 2, 3}) {
      const auto times = simulate(asked, 64, probes, seed);
      INFO("rate " << asked << " seed " << seed);
      CHECK(double(most_in_window(times, 100'000'000)) <= asked / 10 + 2);
      CHECK(pacing_ceiling(pacing_for(asked, 64), 0.1) <= asked / 10 + 2 + 1e-9);
    }
  }
}
