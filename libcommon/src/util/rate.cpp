#include "tcpkit/util/rate.hpp"

#include <algorithm>
#include <cmath>

namespace tcpkit {

TokenBucket::TokenBucket(double rate, double burst)
    : rate_(rate > 0 ? rate : 1), burst_(std::max(1.0, burst)), tokens_(burst_) {}

void TokenBucket::refill(int64_t now_ns) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
    return;
  }
  if (now_ns <= last_ns_) return;  // the clock never runs backwards for us
  tokens_ = std::min(burst_, tokens_ + double(now_ns - last_ns_) * rate_ / 1e9);
  last_ns_ = now_ns;
}

uint64_t TokenBucket::take(uint64_t want, int64_t now_ns) {
  refill(now_ns);
  const uint64_t granted = std::min<uint64_t>(want, uint64_t(std::floor(tokens_)));
  tokens_ -= double(granted);
  return granted;
}

int64_t TokenBucket::wait_ns(uint64_t want, int64_t now_ns) {
  refill(now_ns);
  const double need = std::min<double>(double(want), burst_) - tokens_;
  if (need <= 0) return 0;
  return int64_t(std::ceil(need * 1e9 / rate_));
}

Pacing pacing_for(double asked_rate, size_t max_batch) {
  constexpr double kSlice_s = 0.001;   // a batch holds at most 1 ms of the asked rate
  constexpr double kWindow_s = 0.100;  // the window the ceiling is promised for
  Pacing p;
  const double rate = asked_rate > 0 ? asked_rate : 1;
  p.batch = std::clamp<size_t>(size_t(rate * kSlice_s), 1, std::max<size_t>(1, max_batch));
  if (p.batch == 1) {
    // One probe per syscall: burst 1 + one in flight = the 2 allowed. From 400/s up, a second
    // token of burst (paid for by 10/s, under 2.5 %) lets a late wake-up catch up.
    p.burst = rate >= 400 ? 2 : 1;
    p.rate = rate - (p.burst - 1) / kWindow_s;
    return p;
  }
  // A burst of two batches, or 3 ms of the rate if more, lets a sender that woke up late catch
  // up without losing the rate; the bucket's rate gives back what the burst and one batch in
  // flight take from the window's ceiling (4 % of the rate at most).
  p.burst = std::max(2 * double(p.batch), std::floor(rate * 0.003));
  p.rate = rate - (p.burst + double(p.batch) - 2) / kWindow_s;
  return p;
}

double pacing_ceiling(const Pacing& pacing, double window_s) {
  return pacing.burst + pacing.rate * window_s + (pacing.batch > 1 ? double(pacing.batch) : 1.0);
}

}  // namespace tcpkit
