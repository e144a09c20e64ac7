// A SYN/ACK the peer sent again (its first lost) comes later than the run's fastest answer by
// the peer's retransmission timeout: 1 s (Linux) or 3 s, give or take the path's jitter.
#include <catch2/catch.hpp>

#include "tcpkit/probe/resent_syn_ack.hpp"

using namespace tcpkit;

namespace {
constexpr int64_t kMs = 1'000'000;
}

TEST_CASE("resent SYN/ACK: 1 s or 3 s over the fastest is the peer's timeout, not a round trip") {
  ResentSynAckJudge j;
  CHECK_FALSE(j.sent_again(10 * kMs));  // the baseline
  CHECK_FALSE(j.sent_again(12 * kMs));
  CHECK(j.sent_again(1'020 * kMs));  // found: 1011 to 1035 ms on a 10 ms path
  CHECK(j.sent_again(1'045 * kMs));
  CHECK(j.sent_again(3'030 * kMs));
  // Late by other amounts: a slow round trip, counted.
  CHECK_FALSE(j.sent_again(500 * kMs));
  CHECK_FALSE(j.sent_again(1'800 * kMs));
  CHECK_FALSE(j.sent_again(5'000 * kMs));
}

TEST_CASE("resent SYN/ACK: the first answer is only the baseline, and a faster one replaces it") {
  ResentSynAckJudge j;
  CHECK_FALSE(j.sent_again(1'020 * kMs));  // nothing to compare with
  CHECK_FALSE(j.sent_again(10 * kMs));     // 1010 ms faster: the new baseline
  CHECK(j.sent_again(1'015 * kMs));
  // A copy judged sent again does not become the baseline: the next one is judged as before.
  CHECK(j.sent_again(1'030 * kMs));
  // A long path: 300 ms round trips, one copy 1 s later.
  ResentSynAckJudge far;
  CHECK_FALSE(far.sent_again(300 * kMs));
  CHECK_FALSE(far.sent_again(320 * kMs));
  CHECK(far.sent_again(1'305 * kMs));
}
