#include "tcpkit/scan/scan_drops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tcpkit/util/counts.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpkit {

namespace {
// Fewer answers in round 0's first quarter are too few to tell a collapse from chance.
constexpr double kCollapseMinFirst = 20;
// The last quarter is below this share of the first...
constexpr double kCollapseShare = 0.6;
// ...and this many standard deviations below it (two Poisson counts).
constexpr double kCollapseSigmas = 4;
// Every answer of round 0 in its first quarter and none after, at least this many: a rate
// limiter's burst spent by the first probes (nft's `limit rate over 10/second` passes a burst of
// 5, then one a tenth of a second). Spread at random, n answers all fall in the first quarter
// with chance 4^-n: under 0.1 % at 5.
constexpr uint64_t kBurstMinAnswers = 5;
// A retry round's late answers that mean drops: at least this many, and at least one in
// kRetryDropOneIn of its probes (5 %).
constexpr uint64_t kRetryMinAnswers = 3;
constexpr uint64_t kRetryDropOneIn = 20;
// Late answers over all retry rounds that mean drops: at least this many (fewer prove
// nothing), and at least one in kLateShareOneIn of all answers (a quarter).
constexpr uint64_t kLateMinAnswers = 10;
// Late ICMP errors that tell an ICMP rate limit: one a round passes it, so a few rounds show it.
constexpr uint64_t kIcmpLimitMinLate = 3;
constexpr uint64_t kLateShareOneIn = 4;
// The rate to suggest after drops: at most a quarter of the asked one, and 30 % below what a
// rate limiter was seen to let through (its burst inflates that figure; else half the slowest
// round's).
constexpr double kSuggestBelowAsked = 4;
constexpr double kSuggestBelowSlowest = 2;
constexpr double kSuggestShareOfPassing = 0.7;
// Two retry rounds tell the cause when the later ran at most half as fast and both had this many
// probes: its share of answers at least kLimitShareRise times the earlier's is a rate limiter,
// at most kLossShareRise times is random loss (a share's spread at these counts is ~10 %).
constexpr double kCauseSlowerBy = 2;
constexpr uint64_t kCauseMinProbes = 20;
constexpr double kLimitShareRise = 1.5, kLossShareRise = 1.1;
// A round held back by a limiter: answered in less than half its probes, of 20 or more.
constexpr uint64_t kPassingMinProbes = 20;
}  // namespace

bool burst_then_silence(const QuarterAnswers& q) { return q[0] >= kBurstMinAnswers && q[1] + q[2] + q[3] == 0; }

bool answers_collapsed(const QuarterAnswers& q) {
  if (burst_then_silence(q)) return true;
  const double first = double(q[0]), last = double(q[3]);
  if (first < kCollapseMinFirst) return false;
  return last < kCollapseShare * first && first - last >= kCollapseSigmas * std::sqrt(first + last);
}

bool retry_found_drops(const RoundTally& round) {
  return round.answers >= kRetryMinAnswers && round.answers * kRetryDropOneIn >= round.sent;
}

bool retry_found_answers(const RoundTally& round) { return round.answers >= kRetryMinAnswers; }

DropCause drop_cause(const std::vector<RoundTally>& rounds) {
  for (size_t r = 2; r < rounds.size(); ++r) {  // retry rounds only: round 0 also holds the closed ports
    const RoundTally &before = rounds[r - 1], &now = rounds[r];
    if (before.sent < kCauseMinProbes || now.sent < kCauseMinProbes || before.answers < kRetryMinAnswers) continue;
    if (now.rate <= 0 || before.rate < kCauseSlowerBy * now.rate) continue;
    const double rise = (double(now.answers) / double(now.sent)) / (double(before.answers) / double(before.sent));
    if (rise >= kLimitShareRise) return DropCause::rate_limit;
    if (rise <= kLossShareRise) return DropCause::random_loss;
  }
  return DropCause::unknown;
}

double passing_rate(const std::vector<RoundTally>& rounds, size_t first_round) {
  double lowest = 0;
  const auto take = [&](double per_second) {
    if (lowest == 0 || per_second < lowest) lowest = per_second;
  };
  // Retry rounds of a strict limiter find a answer or two each: pooled, they still tell.
  uint64_t pooled_answers = 0;
  double pooled_seconds = 0;
  for (size_t i = first_round; i < rounds.size(); ++i) {
    const RoundTally& r = rounds[i];
    if (r.sent < kPassingMinProbes || r.seconds <= 0 || 2 * r.answers >= r.sent) continue;
    if (i > 0) pooled_answers += r.answers, pooled_seconds += r.seconds;
    if (r.answers >= kRetryMinAnswers) take(double(r.answers) / r.seconds);
  }
  if (pooled_answers >= kRetryMinAnswers) take(double(pooled_answers) / pooled_seconds);
  return lowest;
}

double slower_rate(double rate, double min_rate) { return std::max(std::min(min_rate, rate), rate / 4); }

namespace {
std::string percent(uint64_t part, uint64_t whole) {
  return format_fixed(whole ? 100.0 * double(part) / double(whole) : 0.0, 0) + " %";
}
}  // namespace

uint64_t late_answers(const std::vector<RoundTally>& rounds) {
  uint64_t late = 0;
  for (size_t r = 1; r < rounds.size(); ++r) late += rounds[r].answers;
  return late;
}

namespace {
// Every answer the retry rounds found, at least 3, was an ICMP error: refusals held back by an
// ICMP rate limit (round 0 may have none: the limit's burst spent before it) (found: a host rejecting 100 ports with
// admin-prohibited under Linux's default limit, 10 refusals seen, 90 ports silent, and the report
// blamed a rate-limiting firewall and suggested --rate 100, which changed nothing).
// Of the answers that came only in retry rounds, the ICMP errors.
uint64_t late_icmp_answers(const std::vector<RoundTally>& rounds) {
  uint64_t late_icmp = 0;
  for (size_t r = 1; r < rounds.size(); ++r) late_icmp += rounds[r].icmp_answers;
  return late_icmp;
}

bool icmp_limited(const std::vector<RoundTally>& rounds, uint64_t late) {
  return rounds.size() >= 2 && late >= kIcmpLimitMinLate && late_icmp_answers(rounds) == late;
}

// Round 0's answers came as a burst and then none, every one an ICMP error, and so did the
// retry rounds' (if any): the refuser's ICMP burst, spent by the first probes (found: a host
// whose ICMP budget was full answered 6 of 100 rejected ports at once, then nothing within the
// retries' second; the report blamed a rate-limiting firewall and suggested --rate 4).
bool icmp_burst_spent(const std::vector<RoundTally>& rounds, const QuarterAnswers& quarters, uint64_t late) {
  return !rounds.empty() && burst_then_silence(quarters) && rounds[0].icmp_answers == rounds[0].answers &&
         late_icmp_answers(rounds) == late;
}

// The part every ICMP-limit reason ends with.
constexpr const char* kIcmpLimitWhy =
    ": whoever refuses these ports (the host, or a router) holds its ICMP errors back (Linux sends about 6 to one "
    "address at once, then about 1 a second over IPv4, a few a second over IPv6: net.ipv4.icmp_ratelimit, "
    "net.ipv6.icmp.ratelimit), so the silent ports are most likely refused the same way; they are filtered either "
    "way, and no lower --rate short of that limit helps";
}  // namespace

DropFindings judge_drops(const std::vector<RoundTally>& rounds, const QuarterAnswers& quarters, double asked_rate) {
  DropFindings out;
  const uint64_t late = late_answers(rounds);
  const uint64_t total = (rounds.empty() ? 0 : rounds[0].answers) + late;
  if (icmp_limited(rounds, late)) {
    // No rate helps short of the limit's own (Linux: 1 a second to one address), and the silent
    // ports are most likely refused alike: filtered either way, their reason unknown.
    out.cause = DropCause::icmp_limit;
    out.reasons.push_back(std::to_string(late) + " of " + std::to_string(total) + " answers came only in retry " +
                          "rounds, every one of them an ICMP error" + kIcmpLimitWhy);
    return out;
  }
  if (icmp_burst_spent(rounds, quarters, late)) {
    out.cause = DropCause::icmp_limit;
    out.reasons.push_back("round 1 drew " + std::to_string(quarters[0]) +
                          " answers to the first quarter of its probes and none to the rest, every one of them an "
                          "ICMP error" + (late ? ", as were the " + std::to_string(late) + " the retry rounds found" : std::string()) +
                          kIcmpLimitWhy);
    return out;
  }
  out.cause = drop_cause(rounds);
  const char* why = out.cause == DropCause::rate_limit
                        ? "probes are being dropped on the way, as a rate-limiting firewall does (a slower "
                          "round was answered in a larger share)"
                    : out.cause == DropCause::random_loss
                        ? "probes or their answers are being lost on the way at random (a slower round was "
                          "answered in no larger a share, so a lower rate will not help; more --retries will)"
                        : "probes or their answers are being lost on the way (a rate-limiting firewall, or a "
                          "lossy path)";
  // Random loss of p each way brings about 2p of the answers late (19 % at 10 %): a quarter
  // or more is more than plain loss, and every port still unanswered may be a dropped one.
  if (late >= kLateMinAnswers && late * kLateShareOneIn >= total)
    out.reasons.push_back(std::to_string(late) + " of " + std::to_string(total) + " answers (" +
                          percent(late, total) + ") came only in retry rounds: " + why);
  const bool burst = burst_then_silence(quarters);
  if (burst)
    out.reasons.push_back("round 1 drew " + std::to_string(quarters[0]) +
                          " answers to the first quarter of its probes and none to the rest: a rate-limiting "
                          "firewall's burst was spent by the first probes, and the probes after it were dropped (or a "
                          "table of limited size filled, as conntrack's does, whose entries free only after their "
                          "timeout: then retries within it recover nothing)");
  else if (answers_collapsed(quarters))
    out.reasons.push_back("the answers collapsed during round 1 (" + std::to_string(quarters[0]) +
                          " to the first quarter of its probes, " + std::to_string(quarters[3]) +
                          " to the last): probes are being dropped on the way, as a rate-limiting "
                          "firewall does");
  // Said only when that round left some probes unanswered: they are the ports at stake.
  if (rounds.size() >= 2 && retry_found_drops(rounds.back()) && rounds.back().answers < rounds.back().sent)
    out.reasons.push_back("the last retry round still found " + count_of(rounds.back().answers, "answer") +
                          " to " + count_of(rounds.back().sent, "probe") +
                          ": ports reported filtered may have lost their probes too");
  if (!out.reasons.empty() && out.cause != DropCause::random_loss) {
    // What a limiter let through per second, less 30 % for its burst; without such a figure,
    // half the slowest round's rate (which still found answers late, so was too fast as well).
    double rate = asked_rate;
    for (const auto& r : rounds)
      if (r.rate > 0) rate = std::min(rate, r.rate);
    // After a burst and nothing, round 1's figure is the burst over a few milliseconds,
    // hundreds of times too fast: the retry rounds tell, or else the burst's answers stand for
    // the rate (a limiter's burst is rarely above its rate per second).
    double passing = passing_rate(rounds, burst ? 1 : 0);
    if (burst && passing == 0) passing = double(quarters[0]);
    const double below = passing > 0 ? passing * kSuggestShareOfPassing : rate / kSuggestBelowSlowest;
    out.suggested_rate = std::max(1.0, std::floor(std::min(asked_rate / kSuggestBelowAsked, below)));
    out.suggested_from_passing = passing > 0;
  }
  return out;
}

}  // namespace tcpkit
