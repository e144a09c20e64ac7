#include "tcpkit/probe/resent_syn_ack.hpp"

#include <algorithm>

namespace tcpkit {

namespace {
constexpr int64_t kMs = 1'000'000;
// A copy sent after the peer's timeout is a normal answer plus that timeout, from a little
// before the fastest (our clock) to the slowest plus the timer's slack (found 11 to 25 ms over).
constexpr int64_t kEarlyNs = 5 * kMs, kSlackNs = 50 * kMs;
constexpr int64_t kTimeoutsS[] = {1, 3};
}  // namespace

std::optional<int> ResentSynAckJudge::sent_again(int64_t rtt_ns) {
  if (fastest_ns_ && *slowest_ns_ - *fastest_ns_ <= kMaxSpreadNs)
    for (const int64_t s : kTimeoutsS) {
      const int64_t base = rtt_ns - s * 1000 * kMs;
      if (base >= *fastest_ns_ - kEarlyNs && base <= *slowest_ns_ + kSlackNs) return int(s);
    }
  fastest_ns_ = std::min(fastest_ns_.value_or(rtt_ns), rtt_ns);
  slowest_ns_ = std::max(slowest_ns_.value_or(rtt_ns), rtt_ns);
  return std::nullopt;
}

}  // namespace tcpkit
