#pragma once
// tcpprobe syn mode: a SYN/ACK the peer sent again, its first lost, answers its probe that much
// late: the peer's retransmission timeout, not a round trip (found: a 10 ms path read rtt max
// 1035 ms and avg 81 ms). Only one SYN/ACK of that connection reaches us, and its timestamp
// cannot tell (Linux offsets each connection's clock at random), so the sign is the timeout
// itself: an answer that is a normal one of the run plus 1 s (Linux's first resend, as for the
// SYN) or 3 s (its second, 1 + 2 s, or an older stack's first), give or take the timer's slack.
// Only on a path whose normal answers keep close together: where they spread, jitter could put
// a real round trip there too.
#include <cstdint>
#include <optional>

namespace tcpkit {

class ResentSynAckJudge {
 public:
  // One SYN/ACK that answered its probe, by its round trip (ns). The timeout it came after (1 or
  // 3 s) when it is a normal answer that late: sent again. The first answer only starts the
  // normal range; an answer judged sent again does not widen it.
  std::optional<int> sent_again(int64_t rtt_ns);

  static constexpr int64_t kMaxSpreadNs = 200'000'000;  // normal answers wider apart: no judgment

 private:
  std::optional<int64_t> fastest_ns_, slowest_ns_;  // the normal answers' range
};

}  // namespace tcpkit
