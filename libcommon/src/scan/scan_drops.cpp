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
// A retry round's late answers that mean drops: at least this many, and at least one in
// kRetryDropOneIn of its probes (5 %).
constexpr uint64_t kRetryMinAnswers = 3;
constexpr uint64_t kRetryDropOneIn = 20;
// Late answers over all retry rounds that mean drops: at least this many (fewer prove
// nothing), and at least one in kLateShareOneIn of all answers (a quarter).
constexpr uint64_t kLateMinAnswers = 10;
constexpr uint64_t kLateShareOneIn = 4;
// The rate to suggest after drops: at most a quarter of the asked one and half of the
// slowest round's.
constexpr double kSuggestBelowAsked = 4;
constexpr double kSuggestBelowSlowest = 2;
}  // namespace

bool answers_collapsed(const QuarterAnswers& q) {
  const double first = double(q[0]), last = double(q[3]);
  if (first < kCollapseMinFirst) return false;
  return last < kCollapseShare * first && first - last >= kCollapseSigmas * std::sqrt(first + last);
}

bool retry_found_drops(const RoundTally& round) {
  return round.answers >= kRetryMinAnswers && round.answers * kRetryDropOneIn >= round.sent;
}

double slower_rate(double rate, double min_rate) { return std::max(std::min(min_rate, rate), rate / 4); }

namespace {
std::string percent(uint64_t part, uint64_t whole) {
  return format_fixed(whole ? 100.0 * double(part) / double(whole) : 0.0, 0) + " %";
}
}  // namespace

DropFindings judge_drops(const std::vector<RoundTally>& rounds, const QuarterAnswers& quarters, double asked_rate) {
  DropFindings out;
  uint64_t total = 0, late = 0;
  for (size_t r = 0; r < rounds.size(); ++r) {
    total += rounds[r].answers;
    if (r > 0) late += rounds[r].answers;
  }
  // Random loss of p each way brings about 2p of the answers late (19 % at 10 %): a quarter
  // or more is more than plain loss, and every port still unanswered may be a dropped one.
  if (late >= kLateMinAnswers && late * kLateShareOneIn >= total)
    out.reasons.push_back(std::to_string(late) + " of " + std::to_string(total) + " answers (" +
                          percent(late, total) +
                          ") came only in retry rounds: probes are being dropped on the way, as a "
                          "rate-limiting firewall does");
  if (answers_collapsed(quarters))
    out.reasons.push_back("the answers collapsed during round 1 (" + std::to_string(quarters[0]) +
                          " to the first quarter of its probes, " + std::to_string(quarters[3]) +
                          " to the last): probes are being dropped on the way, as a rate-limiting "
                          "firewall does");
  if (rounds.size() >= 2 && retry_found_drops(rounds.back()))
    out.reasons.push_back("the last retry round still found " + count_of(rounds.back().answers, "answer") +
                          " to " + count_of(rounds.back().sent, "probe") +
                          ": ports reported filtered may have lost their probes too");
  if (!out.reasons.empty()) {
    // The slowest round that still found answers late was too fast as well.
    double rate = asked_rate;
    for (const auto& r : rounds)
      if (r.rate > 0) rate = std::min(rate, r.rate);
    out.suggested_rate =
        std::max(1.0, std::floor(std::min(asked_rate / kSuggestBelowAsked, rate / kSuggestBelowSlowest)));
  }
  return out;
}

}  // namespace tcpkit
