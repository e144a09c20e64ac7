#pragma once
// How long the scanner waits and how many rounds it sends, from what the scan itself measures
// (nmap derives its timeouts from measured RTTs too; a fixed wait is either too long on a fast
// link or too short on a slow one).
//  - Waits: a high percentile of the round trips seen so far, twice, plus a margin, kept between
//    a floor and a ceiling; before any answer, a conservative start value.
//  - Rounds: the first retry is always sent to the silent probes (one loss must not make a port
//    look filtered); later ones only while the round before still found answers, up to a cap.
// --wait and --retries still force fixed values (ScanConfig).
#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace tcpkit {

// Round trips in log-linear buckets (8 per power of two, so within 12.5 %), in microseconds.
// One writer (the receiver thread) and any number of readers: relaxed atomics, no lock, fixed
// size whatever the scan's length.
class RttHistogram {
 public:
  void add(int64_t rtt_ns);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // The smallest bucket bound below which at least `fraction` of the samples lie, in ns;
  // 0 when there is no sample.
  int64_t percentile_ns(double fraction) const;

  static constexpr int kSubBits = 3;                       // 8 buckets per power of two
  static constexpr int kMaxExponent = 36;                  // 2^36 us: 19 hours, beyond any wait
  static constexpr size_t kBuckets = (kMaxExponent + 1) << kSubBits;

 private:
  static size_t bucket_of(uint64_t us);
  static uint64_t upper_bound_us(size_t bucket);
  std::array<std::atomic<uint32_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
};

struct WaitLimits {
  // Before any answer: one second, the old fixed default and nmap's initial RTT timeout.
  int64_t start_ns = 1'000'000'000;
  // Never shorter: the receive ring hands a block over after 4 ms, and both threads must be
  // scheduled on a loaded machine before a reply is counted.
  int64_t floor_ns = 20'000'000;
  // Never longer: nmap's default --max-rtt-timeout.
  int64_t ceiling_ns = 10'000'000'000;
  double percentile = 0.99;  // one slow answer in a hundred does not stretch every wait
  int64_t rtts = 2;          // answers to the last probe sent arrive one RTT later; twice is room
  int64_t margin_ns = 10'000'000;
};

enum class WaitSource { start, measured, forced };
const char* to_string(WaitSource source);

struct WaitChoice {
  int64_t ns = 0;
  WaitSource source = WaitSource::start;
};

// The wait after a round, from the round trips seen so far.
WaitChoice wait_from_rtts(const RttHistogram& rtts, const WaitLimits& limits = {});

// Whether another round is worth sending, from the answers each round found: found[r] is how
// many probes got their first answer between round r's start and the end of the wait after it
// (late answers to earlier rounds count: drops and delays alike). `unanswered` probes are left;
// `cap` is the most retry rounds (rounds after round 0).
//  - Round 1, the retry, is always sent while something is unanswered.
//  - Later rounds go on while the last one found answers.
//  - After a round that found none, the loss seen so far says how likely a responsive port is
//    still silent: the share of answers that needed a retry, q, estimates how often one try
//    goes unanswered. With A answers in the last round that found any and z silent rounds
//    since, about A * q^z / (1 - q) ports are expected to be still missed; rounds go on while
//    that is at least kMissTolerance. A clean path (q = 0) stops after exactly one retry.
bool another_round(const std::vector<uint64_t>& found, uint64_t unanswered, int cap);

// The expected number of responsive ports still missed (see another_round).
double expected_missed(const std::vector<uint64_t>& found);

constexpr double kMissTolerance = 0.01;  // one scan in a hundred may miss one port, at worst
constexpr double kMaxRetryShare = 0.9;   // q above this says little more: the cap decides

}  // namespace tcpkit
