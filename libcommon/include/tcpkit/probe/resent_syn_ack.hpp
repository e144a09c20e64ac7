#pragma once
// tcpprobe syn mode: a SYN/ACK the peer sent again, its first lost, answers its probe that much
// late: the peer's retransmission timeout, not a round trip (found: a 10 ms path read rtt max
// 1035 ms and avg 81 ms). Only one SYN/ACK of that connection reaches us, and its timestamp
// cannot tell (Linux offsets each connection's clock at random), so the sign is the timeout
// itself: an answer later than the fastest of the run by 1 s (Linux's initial timeout, as for
// the SYN) or 3 s (RFC 2988's, older stacks), give or take the path's jitter. A slow way back
// that lands on those marks by chance reads the same; the note says what it is taken for.
#include <cstdint>
#include <optional>

namespace tcpkit {

class ResentSynAckJudge {
 public:
  // One SYN/ACK that answered its probe, by its round trip (ns). True when it came later than
  // the fastest so far by about 1 s or 3 s: sent again. The first answer only sets the
  // baseline; an answer judged sent again does not move it.
  bool sent_again(int64_t rtt_ns);

 private:
  std::optional<int64_t> fastest_ns_;
};

}  // namespace tcpkit
