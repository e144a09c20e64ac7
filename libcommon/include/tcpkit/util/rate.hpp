#pragma once
// A token bucket: at most `rate` tokens per second on average, with bursts of at most `burst`.
// Time is passed in by the caller (nanoseconds on any monotonic clock), so tests drive it.
#include <cstddef>
#include <cstdint>

namespace tcpkit {

class TokenBucket {
 public:
  // rate > 0 tokens per second; burst >= 1 tokens. The bucket starts full.
  TokenBucket(double rate, double burst);

  // Takes up to want tokens now and returns how many were granted (0..want).
  uint64_t take(uint64_t want, int64_t now_ns);
  // Nanoseconds from now until `want` tokens (capped at the burst) will be available.
  int64_t wait_ns(uint64_t want, int64_t now_ns);

  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  void refill(int64_t now_ns);
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ns_ = 0;
  bool started_ = false;
};

// How a sender keeps a rate a ceiling at every time scale: probes go out in batches of
// `batch` (one syscall each) through a bucket of `burst` tokens refilled at `rate`. Any window
// of T seconds then holds at most burst + rate*T probes by the bucket, plus one batch whose
// syscall began before the window. pacing_for() picks them so that this stays within
// asked*T + 2 for T = 100 ms: a batch is at most what 1 ms of the asked rate allows (so below
// 2000/s there are no batches), and the bucket runs slightly below the asked rate to pay for
// the batch and the burst.
struct Pacing {
  size_t batch = 1;   // probes per syscall
  double burst = 1;   // bucket size, in probes
  double rate = 1;    // bucket refill, probes per second (<= the asked rate)
};
Pacing pacing_for(double asked_rate, size_t max_batch);

// The most probes pacing_for() lets through in any window of window_s seconds, by the bound
// above (what the tests and the bench compare the wire with).
double pacing_ceiling(const Pacing& pacing, double window_s);

}  // namespace tcpkit
