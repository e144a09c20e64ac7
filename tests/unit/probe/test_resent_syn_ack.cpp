// A SYN/ACK the peer sent again (its first lost) is a normal answer of the run plus the peer's
// retransmission timeout: 1 s (Linux's first resend) or 3 s, give or take the timer's slack.
#include <catch2/catch.hpp>

#include "tcpkit/probe/resent_syn_ack.hpp"

using namespace tcpkit;

namespace {
constexpr int64_t kMs = 1'000'000;
}

TEST_CASE("resent SYN/ACK: a normal answer plus 1 s or 3 s is the peer's timeout, not a round trip") {
  ResentSynAckJudge j;
  CHECK_FALSE(j.sent_again(10 * kMs));  // the first: the normal range starts
  CHECK_FALSE(j.sent_again(12 * kMs));
  CHECK(j.sent_again(1'020 * kMs) == 1);  // found: 1011 to 1035 ms on a 10 ms path
  CHECK(j.sent_again(1'045 * kMs) == 1);
  CHECK(j.sent_again(3'030 * kMs) == 3);
  // Late by other amounts: a slow round trip, counted (and the normal range widens).
  CHECK_FALSE(j.sent_again(500 * kMs));
  CHECK_FALSE(j.sent_again(1'800 * kMs));
}

TEST_CASE("resent SYN/ACK: no judgment where the normal answers spread, and none from the first") {
  ResentSynAckJudge first;
  CHECK_FALSE(first.sent_again(1'020 * kMs));  // nothing to compare with
  CHECK_FALSE(first.sent_again(10 * kMs));     // the range is now 10..1020 ms: too wide to judge
  CHECK_FALSE(first.sent_again(1'015 * kMs));
  // A bufferbloated path: 40 to 400 ms; a 1.2 s answer may be its own.
  ResentSynAckJudge bloat;
  CHECK_FALSE(bloat.sent_again(40 * kMs));
  CHECK_FALSE(bloat.sent_again(400 * kMs));
  CHECK_FALSE(bloat.sent_again(1'200 * kMs));
  // A long path that keeps together: 300 to 320 ms, one copy 1 s later; one judged so does
  // not widen the range.
  ResentSynAckJudge far;
  CHECK_FALSE(far.sent_again(300 * kMs));
  CHECK_FALSE(far.sent_again(320 * kMs));
  CHECK(far.sent_again(1'305 * kMs) == 1);
  CHECK(far.sent_again(1'330 * kMs) == 1);
  CHECK_FALSE(far.sent_again(1'400 * kMs));  // past the slowest normal one plus 1 s and the slack
}
