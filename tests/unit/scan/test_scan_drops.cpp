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
  CHECK_FALSE(limited.suggested_from_passing);  // half the slowest round's rate (no durations here)
  // Plain 10 % loss each way brings ~19 % of the answers late: not a sign on its own.
  const auto lossy = judge_drops({{500, 397, 3000}, {103, 83, 750}, {20, 1, 187}}, {99, 100, 98, 100}, 3000);
  CHECK(lossy.reasons.empty());
  CHECK(lossy.suggested_rate == 0);
  // The last round answered in full: no port is left filtered, so nothing "may have lost its
  // probes too" (it was said with 42 answers to 42 probes); the late share still says drops.
  const auto caught_up = judge_drops({{200, 114, 200}, {86, 44, 200}, {42, 42, 50}}, {29, 28, 29, 28}, 200);
  REQUIRE(caught_up.reasons.size() == 1);
  CHECK(caught_up.reasons[0].find("came only in retry rounds") != std::string::npos);
  // A clean run: everything answered the first time.
  CHECK(judge_drops({{300, 292, 50}, {8, 0, 50}, {8, 0, 50}}, {73, 73, 73, 73}, 50).reasons.empty());
}

TEST_CASE("judging drops: a collapse within round 1") {
  const auto banned = judge_drops({{4000, 300, 10000}}, {250, 40, 5, 5}, 10000);
  REQUIRE(banned.reasons.size() == 1);
  CHECK(banned.reasons[0].find("collapsed") != std::string::npos);
  CHECK(banned.suggested_rate == 2500);
  CHECK_FALSE(banned.suggested_from_passing);  // a quarter of ours: a guess
}

TEST_CASE("judging drops: a limiter's burst spent by the first probes, then nothing") {
  // Found: `tcp flags syn limit rate over 10/second drop` (a burst of 5) against 109 ports, open
  // ones among them: 5 answers, all to round 1's first probes, none in the retry round; too few
  // for the 4-sigma rule, so 104 ports (the open ones too) were filtered, "not degraded".
  CHECK(burst_then_silence({5, 0, 0, 0}));
  CHECK(answers_collapsed({5, 0, 0, 0}));
  CHECK_FALSE(burst_then_silence({4, 0, 0, 0}));  // 1 in 256 by chance: too likely
  CHECK_FALSE(burst_then_silence({5, 1, 0, 0}));
  const std::vector<RoundTally> rounds = {{109, 5, 10000, 0.011}, {104, 0, 2500, 0.04}};
  const auto f = judge_drops(rounds, {5, 0, 0, 0}, 10000);
  REQUIRE(f.reasons.size() == 1);
  CHECK(f.reasons[0].find("round 1 drew 5 answers to the first quarter of its probes and none to the rest") == 0);
  // The burst stands for what passes a second (the rounds' own figure was 454/s for 10/s).
  CHECK(f.suggested_rate == 3);
  CHECK(f.suggested_from_passing);
  // Slower retry rounds that each found an answer or two: pooled, they tell the limiter's rate
  // (12 answers in 1.2 s), where round 1 alone said 166/s (the suggestion was 124).
  std::vector<RoundTally> slow = {{300, 5, 10000, 0.03}};
  for (int i = 0; i < 10; ++i) slow.push_back({295, uint64_t(i % 5 == 0 ? 2 : 1), 2500, 0.12});
  CHECK(passing_rate(slow, 1) == Approx(12 / 1.2));
  CHECK(judge_drops(slow, {5, 0, 0, 0}, 10000).suggested_rate == 6);  // 0.7 x 10, floored
}

TEST_CASE("a retry round with a few answers slows the next, whatever their share") {
  // 1001 closed ports behind `limit rate over 100/second` at --rate 10000: each retry round
  // found ~1 % of its probes, under retry_found_drops' 5 %, and no round ever slowed down.
  CHECK(retry_found_answers({950, 10, 10000}));
  CHECK_FALSE(retry_found_drops({950, 10, 10000}));
  CHECK_FALSE(retry_found_answers({950, 2, 10000}));
}

TEST_CASE("a slower round's share of answers tells a rate limiter from random loss") {
  // Limiter: 4 times slower, 4 times the share (it passes so many per second).
  CHECK(drop_cause({{1001, 20, 10000, 0.1}, {980, 10, 10000, 0.098}, {970, 40, 2500, 0.39}}) == DropCause::rate_limit);
  // 20 % loss each way: the slower round is answered in the same share, or less (the truly
  // filtered ports weigh more as the lost ones are found).
  CHECK(drop_cause({{499, 320, 10000, 0.05}, {179, 115, 10000, 0.018}, {64, 39, 2500, 0.026}}) == DropCause::random_loss);
  // Rounds at one rate, or too few probes: nothing to tell by.
  CHECK(drop_cause({{499, 320, 10000}, {179, 115, 10000}, {64, 41, 10000}}) == DropCause::unknown);
  CHECK(drop_cause({{499, 320, 10000}, {10, 5, 10000}, {5, 4, 2500}}) == DropCause::unknown);
}

TEST_CASE("the rate a limiter lets through is read from the rounds it held back") {
  // 100/s with a burst of 10: 20 answers in 0.1 s, 48 in 0.39 s, 160 in 1.5 s.
  const std::vector<RoundTally> rounds = {
      {1001, 20, 10000, 0.1}, {980, 48, 2500, 0.39}, {930, 160, 625, 1.5}, {770, 400, 156, 4.9}};
  CHECK(passing_rate(rounds) == Approx(160 / 1.5));  // the last round answered more than half: not held back
  const auto judged = judge_drops(rounds, {12, 3, 3, 2}, 10000);
  REQUIRE(!judged.reasons.empty());
  CHECK(judged.cause == DropCause::rate_limit);
  CHECK(judged.suggested_rate == 74);  // 0.7 x 106.7: under the limit, so the suggestion works
  CHECK(passing_rate({{200, 150, 1000, 0.2}}) == 0);  // no round held back
}

TEST_CASE("random loss gets no lower rate to try, and says so") {
  const auto lossy = judge_drops({{499, 320, 10000, 0.05}, {179, 115, 10000, 0.018}, {64, 39, 2500, 0.026}},
                                 {80, 80, 80, 80}, 10000);
  REQUIRE(lossy.reasons.size() >= 1);
  CHECK(lossy.cause == DropCause::random_loss);
  CHECK(lossy.reasons[0].find("at random") != std::string::npos);
  CHECK(lossy.reasons[0].find("rate-limiting firewall does") == std::string::npos);
  CHECK(lossy.suggested_rate == 0);
}

TEST_CASE("late answers that are all ICMP errors are refusals an ICMP rate limit held back") {
  // Found by an explorer: a host rejecting 100 ports (admin-prohibited) under Linux's default
  // ICMP limit: 10 refusals in round 0, then one a round. The report blamed a rate-limiting
  // firewall and suggested --rate 100, which changed nothing.
  std::vector<RoundTally> rounds = {{100, 10, 10000, 0, 10}, {90, 1, 2500, 0, 1}, {89, 1, 625, 0, 1},
                                    {88, 1, 156, 0, 1},      {87, 1, 100, 0, 1}};
  auto d = judge_drops(rounds, {10, 0, 0, 0}, 10000);
  REQUIRE(d.reasons.size() == 1);
  CHECK(d.cause == DropCause::icmp_limit);
  CHECK(d.reasons[0].find("every one of them an ICMP error") != std::string::npos);
  CHECK(d.reasons[0].find("net.ipv4.icmp_ratelimit") != std::string::npos);
  CHECK(d.suggested_rate == 0);
  // One late answer that is no ICMP error (a SYN/ACK or RST a limiter held back): as before.
  rounds[2].icmp_answers = 0;
  d = judge_drops(rounds, {10, 0, 0, 0}, 10000);
  CHECK(d.cause != DropCause::icmp_limit);
  // Too few late ICMP errors to tell (and round 0's spread over its probes, no burst): as before.
  CHECK(judge_drops({{100, 10, 10000, 0, 10}, {90, 2, 2500, 0, 2}}, {4, 3, 2, 1}, 10000).cause != DropCause::icmp_limit);
}
