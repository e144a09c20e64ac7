#include "tcpkit/probe/resent_syn_ack.hpp"

#include <array>
#include <utility>

namespace tcpkit {

namespace {
constexpr int64_t kMs = 1'000'000;
// How much later than the fastest answer a copy sent after the peer's timeout comes: 1 s
// (Linux's TCP_TIMEOUT_INIT) or 3 s, less 10 % and more 25 % (the path's jitter, the timer's
// slack: found 1011 to 1035 ms on a 10 ms path with 20 % loss).
constexpr std::array<std::pair<int64_t, int64_t>, 2> kTimeoutMarks{{{900 * kMs, 1'250 * kMs}, {2'700 * kMs, 3'750 * kMs}}};
}  // namespace

bool ResentSynAckJudge::sent_again(int64_t rtt_ns) {
  if (fastest_ns_) {
    const int64_t late = rtt_ns - *fastest_ns_;
    for (const auto& [low, high] : kTimeoutMarks)
      if (late >= low && late <= high) return true;
  }
  if (!fastest_ns_ || rtt_ns < *fastest_ns_) fastest_ns_ = rtt_ns;
  return false;
}

}  // namespace tcpkit
