#include <catch2/catch.hpp>

#include "tcpkit/scan/scan_timing.hpp"

using namespace tcpkit;

namespace {
constexpr int64_t us = 1000, ms = 1'000'000;
}

TEST_CASE("RTT percentiles are within one bucket (12.5 %) above the true value") {
  RttHistogram h;
  CHECK(h.percentile_ns(0.99) == 0);
  for (int i = 1; i <= 100; ++i) h.add(i * 100 * us);  // 0.1 ms .. 10 ms
  CHECK(h.count() == 100);
  const int64_t p50 = h.percentile_ns(0.5), p99 = h.percentile_ns(0.99), p100 = h.percentile_ns(1.0);
  CHECK(p50 >= 5 * ms);
  CHECK(p50 <= 5 * ms * 9 / 8);
  CHECK(p99 >= 9900 * us);
  CHECK(p99 <= 9900 * us * 9 / 8);
  CHECK(p100 >= 10 * ms);
  CHECK(p100 <= 10 * ms * 9 / 8);
}

TEST_CASE("RTT buckets are exact below 8 us and never lose a sample at the extremes") {
  RttHistogram h;
  h.add(0);       // no RTT: not a sample
  h.add(-5);
  CHECK(h.count() == 0);
  h.add(3 * us);
  CHECK(h.percentile_ns(1.0) == 4 * us);  // the bucket [3, 4) us
  h.add(int64_t(1) << 62);                // absurdly late: the last bucket, not out of bounds
  CHECK(h.count() == 2);
  CHECK(h.percentile_ns(1.0) > 60'000'000 * ms);
  CHECK(h.percentile_ns(0.5) == 4 * us);
}

TEST_CASE("one slow answer in a hundred does not stretch the wait") {
  RttHistogram h;
  for (int i = 0; i < 999; ++i) h.add(50 * us);  // veth: about 50 us
  h.add(900 * ms);                               // one SYN/ACK retransmitted late
  const auto w = wait_from_rtts(h);
  CHECK(w.source == WaitSource::measured);
  CHECK(w.ns == WaitLimits{}.floor_ns);  // 2 x 56 us + 10 ms is under the 20 ms floor
}

TEST_CASE("waits follow the measured RTT between the floor and the ceiling") {
  RttHistogram five;
  for (int i = 0; i < 200; ++i) five.add(10 * ms + i * us);  // 5 ms each way
  const auto w = wait_from_rtts(five);
  CHECK(w.source == WaitSource::measured);
  CHECK(w.ns >= 2 * 10 * ms + 10 * ms);
  CHECK(w.ns <= 2 * 10 * ms * 9 / 8 + 10 * ms);

  RttHistogram far;
  for (int i = 0; i < 10; ++i) far.add(8000 * ms);
  CHECK(wait_from_rtts(far).ns == WaitLimits{}.ceiling_ns);

  const RttHistogram none;
  const auto start = wait_from_rtts(none);
  CHECK(start.source == WaitSource::start);
  CHECK(start.ns == 1000 * ms);
  WaitLimits custom;
  custom.start_ns = 5 * ms;  // a start below the floor is raised to it
  CHECK(wait_from_rtts(none, custom).ns == custom.floor_ns);
}

TEST_CASE("rounds: one retry always; on a clean path exactly one") {
  CHECK(another_round({298}, 167, 10));        // 167 silent after round 0: the retry
  CHECK_FALSE(another_round({298, 0}, 167, 10));  // it found nothing, and nothing ever needed a retry
  CHECK_FALSE(another_round({298}, 0, 10));    // everything answered: no round at all
  CHECK_FALSE(another_round({298}, 167, 0));   // no retry allowed
}

TEST_CASE("rounds: a lossy path gets rounds while answers come, then until a miss is unlikely") {
  // 10 % loss each way on 1000 closed ports: ~19 % of the tries go unanswered.
  CHECK(another_round({810, 154}, 36, 10));
  CHECK(another_round({810, 154, 29, 6, 1}, 0 + 7, 10));
  // A silent round after that: q = 190/1000, one answer last: 1 * 0.19 / 0.81 = 0.23 expected.
  const std::vector<uint64_t> one_silent{810, 154, 29, 6, 1, 0};
  CHECK(expected_missed(one_silent) == Approx(0.19 / 0.81).epsilon(0.01));
  CHECK(another_round(one_silent, 6, 10));
  CHECK(another_round({810, 154, 29, 6, 1, 0, 0}, 6, 10));         // 0.045
  CHECK_FALSE(another_round({810, 154, 29, 6, 1, 0, 0, 0}, 6, 10));  // 0.0085 < 1 %
  // The cap counts retry rounds, whatever the answers.
  CHECK(another_round({100, 50, 25}, 40, 3));       // 2 retries sent, a third allowed
  CHECK_FALSE(another_round({100, 50, 25, 12}, 40, 3));  // 3 sent: the cap
}

TEST_CASE("rounds: a path where nearly every answer needed retries is capped, not divided by zero") {
  const std::vector<uint64_t> found{0, 5, 0};
  CHECK(expected_missed(found) == Approx(5 * 0.9 / 0.1));
  CHECK(another_round(found, 100, 10));
}
