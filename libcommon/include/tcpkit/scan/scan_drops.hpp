#pragma once
// Signs that probes or their answers are dropped between the scanner and the targets, most
// often by a rate-limiting firewall (e.g. nftables `limit rate over 100/second drop`): a port
// whose probe was dropped looks "filtered", so a scan that cannot see the drops is silently
// wrong. Two signs, from counts the engine keeps anyway:
//  - answers that come only in retry rounds: a port that answers at all answers the first
//    probe unless something dropped it;
//  - the answer rate collapsing within round 0: the probe order is a random permutation, so
//    every quarter of the round should find about as many answers as the first.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tcpkit {

struct RoundTally {
  uint64_t sent = 0;     // probes sent in the round
  uint64_t answers = 0;  // ports whose first answer came to this round's probes
  double rate = 0;       // the round's rate ceiling, probes per second
  double seconds = 0;    // how long the round took to send (0: not known)
  uint64_t icmp_answers = 0;  // of answers: ICMP errors (a refusal, or unreachable)
};

// Answers to round 0's probes, by quarter of its (random) order.
using QuarterAnswers = std::array<uint64_t, 4>;

// The last quarter found far fewer answers than the first: fewer than 60 % of them, and
// 4 standard deviations below (two Poisson counts), so chance alone almost never trips it; or
// burst_then_silence.
bool answers_collapsed(const QuarterAnswers& quarters);
// Every answer in the first quarter, at least 5, and none after: a strict limiter's burst spent
// by the first probes (its few answers are below what the 4-sigma rule can see).
bool burst_then_silence(const QuarterAnswers& quarters);

// A retry round found answers the earlier rounds missed: at least 3, and at least 5 % of its
// probes (a truly filtered port never answers a retry).
bool retry_found_drops(const RoundTally& round);
// A retry round found at least 3 answers, whatever their share: the next round goes slower. A
// rate limiter far below the rate lets a share of 1 % through, and a slower retry round costs
// little when the silent ports are truly filtered.
bool retry_found_answers(const RoundTally& round);

// The answers that came only in retry rounds (round 1 on): their first tries drew nothing.
uint64_t late_answers(const std::vector<RoundTally>& rounds);

// What the rounds say of the drops: a slower retry round answered in a larger share (a rate
// limiter: it passes so many per second, whatever is sent), in the same share or less (loss at
// random: it takes a share, whatever the rate), or no such pair of rounds to tell.
// icmp_limit: every late answer (3 or more) an ICMP error, or round 0's a burst of ICMP errors
// and then none: the ICMP rate limit of whoever refuses the ports (the host's own, or a
// router's) let a few through at once, then a few each round.
enum class DropCause { unknown, rate_limit, random_loss, icmp_limit };
DropCause drop_cause(const std::vector<RoundTally>& rounds);

// The answers per second that got through a rate limiter, from the rounds it held back (those
// answered in less than half their probes, 20 probes or more), from first_round on: the lowest
// figure of a round with 3 answers or more, or of the retry rounds pooled; 0 if none.
double passing_rate(const std::vector<RoundTally>& rounds, size_t first_round = 0);

// The ceiling for the round after one that showed drops: a quarter of it, not below min_rate.
double slower_rate(double rate, double min_rate);

struct DropFindings {
  std::vector<std::string> reasons;  // empty: no sign of drops
  DropCause cause = DropCause::unknown;
  double suggested_rate = 0;         // a --rate to try instead (0 when no reason, or random loss)
  bool suggested_from_passing = false;  // it comes from what a limiter let through, not a share of ours
};

// Judges a finished (not interrupted) scan. rounds[0] is round 0; asked_rate is --rate.
DropFindings judge_drops(const std::vector<RoundTally>& rounds, const QuarterAnswers& quarters, double asked_rate);

}  // namespace tcpkit
