#include "tcpkit/rate.hpp"

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

}  // namespace tcpkit
