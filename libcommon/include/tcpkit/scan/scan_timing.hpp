#pragma once
// How long the scanner waits and how many rounds it sends, from what the scan itself measures
// (nmap derives its timeouts from measured RTTs too; a fixed wait is either too long on a fast
// link or too short on a slow one).
//  - Waits: a high percentile of the round trips seen so far, twice, plus how late the receiver
//    reads replies (measured too) and a small margin, kept between a floor and a ceiling; before
//    any answer, a conservative start value.
//  - Rounds: the first retry is always sent to the silent probes (one loss must not make a port
//    look filtered); later ones only while the round before still found answers, up to a cap.
//  - Per network: every IPv4 /24 and IPv6 /64 that answered keeps its own round trips, and the
//    wait after a round is the longest of its networks' waits (NetworkRtts below).
// --wait and --retries still force fixed values (ScanConfig).
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

class TargetSet;

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
  // 2^24 us (16.8 s): past the longest wait (WaitLimits::ceiling_ns, 10 s); RTTs beyond share
  // the last bucket. Every network that answers has a histogram: 808 bytes, not 1.2 kB.
  static constexpr int kMaxExponent = 24;
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
  // Never shorter: a reply is counted only once the receive ring handed its block over (1 ms
  // on Linux 6.18+, up to a jiffy before) and the receiver thread read it.
  int64_t floor_ns = 5'000'000;
  // Never longer: nmap's default --max-rtt-timeout.
  int64_t ceiling_ns = 10'000'000'000;
  double percentile = 0.99;  // one slow answer in a hundred does not stretch every wait
  int64_t rtts = 2;          // answers to the last probe sent arrive one RTT later; twice is room
  int64_t margin_ns = 2'000'000;
  // A network with no answer of its own waits as all the answers together say, but never less
  // than this (nmap -T4's --min-rtt-timeout): a far network scanned beside a LAN would
  // otherwise get the LAN's few milliseconds and its answers come after the scan ended.
  int64_t unmeasured_floor_ns = 100'000'000;
  // Measured by the caller: how late the receiver reads a reply after the kernel took it in
  // (the ring's block handover plus the thread's scheduling), p99. A loaded machine makes it
  // grow, and the waits with it, instead of a fixed margin sized for the worst machine.
  int64_t reader_lag_ns = 0;
};

enum class WaitSource { start, measured, forced };
const char* to_string(WaitSource source);

struct WaitChoice {
  int64_t ns = 0;
  WaitSource source = WaitSource::start;
};

// The wait after a round, from the round trips seen so far.
WaitChoice wait_from_rtts(const RttHistogram& rtts, const WaitLimits& limits = {});

// The network a target belongs to for the waits: its IPv4 /24 or its IPv6 /64 (the blocks nmap
// and masscan users think in, and what one router or one LAN usually serves).
struct NetworkKey {
  bool v6 = false;
  uint64_t prefix = 0;  // the address's first 24 (IPv4) or 64 (IPv6) bits
  static NetworkKey of(const IpAddress& address);
  std::string to_string() const;  // "10.1.2.0/24", "fd00:1::/64"
  bool operator==(const NetworkKey&) const = default;
};

// The networks a round probed while they had no round trips of their own (a sender's note, one
// per sending thread): at the wait after the round, the ones still without any decide whether
// the unmeasured floor applies. Up to kMax networks; past that, every one counts as still silent.
class SilentNetworks {
 public:
  static constexpr size_t kMax = 256;
  void clear();
  void add(const NetworkKey& key);
  bool overflowed() const { return overflowed_; }
  template <class F>
  bool any_of(F&& f) const {
    for (size_t i = 0; i < kSlots; ++i)
      if (used_[i] && f(keys_[i])) return true;
    return false;
  }

 private:
  static constexpr size_t kSlots = 2 * kMax;
  std::array<NetworkKey, kSlots> keys_{};
  std::array<bool, kSlots> used_{};
  size_t count_ = 0;
  bool overflowed_ = false;
};

// Round trips per network, besides the scan-wide (pooled) histogram. Why: one histogram for
// the whole scan lets a fast network's many answers set its percentile, and the wait after a
// round is then too short for a slow network's answers, whose ports come out filtered.
// A network gets its histogram at its first answer (most networks of a wide scan never answer);
// at most kMaxNetworks do, the others count in the pooled histogram only and wait as networks
// without answers of their own.
// Threads: one writer of the RTTs (the receiver thread: add), one of the round marks (the sender
// thread: mark_probed), readers anywhere; a slot is published by its state, never moved or freed
// before the object: no lock on either thread's path.
class NetworkRtts {
 public:
  static constexpr size_t kMaxNetworks = 1024;  // 808 bytes each when all answered: 0.8 MB at most

  // `networks`: how many the scan's targets fall in (networks_in), at most kMaxNetworks count;
  // the table is sized for them (82 kB for the most, 80 bytes for one host's scan).
  explicit NetworkRtts(size_t networks = kMaxNetworks);
  // A first answer's round trip from `address`, during round `round` (or its wait).
  void add(const IpAddress& address, int64_t rtt_ns, int round);
  // A probe to `address` goes out in round `round`; false when its network has no RTTs of its own.
  bool mark_probed(const IpAddress& address, int round);
  // Whether a network of the note still has no RTTs of its own (or the note overflowed).
  bool still_silent(const SilentNetworks& probed) const;
  const RttHistogram& pooled() const { return pooled_; }
  size_t measured() const { return count_.load(std::memory_order_acquire); }

  struct Choice {
    WaitChoice wait;
    bool network_set_it = false;  // false: the pooled estimate or the start value set it
    NetworkKey network;           // the network that set it, when one did
    int64_t network_p99_ns = 0;
  };
  // The wait after round `round`: the longest of the waits of the networks that had probes in it
  // or answered since it began; `unmeasured_probed` says the round also probed networks without
  // RTTs of their own, which wait as the pooled estimate says, at least unmeasured_floor_ns (the
  // start value before any answer).
  Choice wait_after(int round, bool unmeasured_probed, const WaitLimits& limits = {}) const;

 private:
  struct Slot {
    std::atomic<uint8_t> state{0};  // 0 empty, 1 published
    NetworkKey key;
    std::unique_ptr<RttHistogram> rtts;
    std::atomic<int> probed_round{-1};   // the last round that sent to it (sender thread)
    std::atomic<int> answered_round{-1}; // the round during which it first answered
  };
  Slot* find(const NetworkKey& key) const;
  size_t max_networks_;  // that get histograms of their own
  size_t slot_count_;    // open addressing, at most half full
  std::unique_ptr<Slot[]> slots_;
  std::atomic<size_t> count_{0};
  RttHistogram pooled_;
};

// How many networks (NetworkKey) the addresses of `targets` fall in, counted up to `cap`.
size_t networks_in(const TargetSet& targets, size_t cap = NetworkRtts::kMaxNetworks);

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
