#pragma once
// A token bucket: at most `rate` tokens per second on average, with bursts of at most `burst`.
// Time is passed in by the caller (nanoseconds on any monotonic clock), so tests drive it.
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

}  // namespace tcpkit
