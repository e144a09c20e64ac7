// earlier_copy: a segment after our crafted one that repeats one of the peer's earlier segments
// is a network copy when the peer's clock has surely ticked since (its TSval would be newer),
// undecidable otherwise; never when it differs.
#include <catch2/catch.hpp>

#include <vector>

#include "tcpkit/stray/earlier_copy.hpp"
#include "tcpkit/wire/segment.hpp"

using namespace tcpkit;

namespace {

constexpr int64_t kMs = 1'000'000;

TrackedSegment peer_ack(int64_t time_ns, std::optional<uint32_t> tsval, uint16_t ip_id = 0) {
  TrackedSegment s;
  s.direction = Direction::inbound;
  s.time_ns = time_ns;
  s.flags = tcp_flag::ack;
  s.seq = 5001;
  s.ack = 1002;
  s.window = 509;
  s.ip_id = ip_id;
  if (tsval) s.options.add_nop().add_nop().add_timestamps(*tsval, 777);
  return s;
}

// A Linux peer: 1 ms ticks, seen over 20 ms.
PeerClock linux_clock() {
  PeerClock c;
  c.observe(0, 100);
  c.observe(20 * kMs, 120);
  return c;
}

}  // namespace

TEST_CASE("earlier_copy: the same ACK, TSval and all, after the peer's clock ticked is a copy") {
  const std::vector<TrackedSegment> before = {peer_ack(20 * kMs, 120)};
  const int64_t departed = 31 * kMs;  // our FIN left 11 ms after the original came
  CHECK(earlier_copy(peer_ack(40 * kMs, 120), before, departed, linux_clock(), false) == EarlierCopy::copy);
  // The fresh answer carries a newer TSval: an answer.
  CHECK(earlier_copy(peer_ack(40 * kMs, 131), before, departed, linux_clock(), false) == EarlierCopy::no);
  // An ID other than the original's changes nothing (Linux's TIME_WAIT sends 0, a copy keeps it).
  CHECK(earlier_copy(peer_ack(40 * kMs, 120, 4242), before, departed, linux_clock(), false) == EarlierCopy::copy);
}

TEST_CASE("earlier_copy: a clock not seen to tick often enough decides nothing") {
  const std::vector<TrackedSegment> before = {peer_ack(20 * kMs, 120)};
  PeerClock still;  // one reading: no rate
  still.observe(0, 100);
  CHECK(earlier_copy(peer_ack(40 * kMs, 120), before, 31 * kMs, still, false) == EarlierCopy::ambiguous);
  PeerClock slow;  // 2 ticks in 1 s: the period may be up to 1 s, more than the 11 ms between
  slow.observe(0, 100);
  slow.observe(1000 * kMs, 102);
  CHECK_FALSE(slow.ticks_within(11 * kMs));
  CHECK(slow.ticks_within(1000 * kMs));
  CHECK(earlier_copy(peer_ack(1040 * kMs, 120), before, 31 * kMs, slow, false) == EarlierCopy::ambiguous);
}

TEST_CASE("earlier_copy: without timestamps the same bytes are a copy only on a path that copies") {
  const std::vector<TrackedSegment> before = {peer_ack(20 * kMs, std::nullopt)};
  CHECK(earlier_copy(peer_ack(40 * kMs, std::nullopt), before, 31 * kMs, PeerClock{}, false) == EarlierCopy::no);
  CHECK(earlier_copy(peer_ack(40 * kMs, std::nullopt), before, 31 * kMs, PeerClock{}, true) == EarlierCopy::ambiguous);
}

TEST_CASE("earlier_copy: only segments that came before ours left, and only the same ones, count") {
  auto other = peer_ack(20 * kMs, 120);
  other.ack = 1003;
  auto outbound = peer_ack(20 * kMs, 120);
  outbound.direction = Direction::outbound;
  const std::vector<TrackedSegment> before = {other, outbound, peer_ack(35 * kMs, 120)};  // the last came after
  CHECK(earlier_copy(peer_ack(40 * kMs, 120), before, 31 * kMs, linux_clock(), true) == EarlierCopy::no);
  auto window = peer_ack(20 * kMs, 120);
  window.window = 510;
  CHECK(earlier_copy(peer_ack(40 * kMs, 120), std::vector{window}, 31 * kMs, linux_clock(), true) == EarlierCopy::no);
}

TEST_CASE("PeerClock: a late original's older TSval does not shrink the rate") {
  PeerClock c;
  c.observe(0, 100);
  c.observe(10 * kMs, 110);
  c.observe(12 * kMs, 105);  // overtaken on the way
  CHECK(c.ticks_within(2 * kMs));
  CHECK_FALSE(c.ticks_within(1 * kMs));
}
