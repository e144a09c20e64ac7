#include <catch2/catch.hpp>

#include "tcpkit/scan/scan_timing.hpp"
#include "tcpkit/wire/target_set.hpp"

using namespace tcpkit;

namespace {
constexpr int64_t us = 1000, ms = 1'000'000;
}

TEST_CASE("RTT percentiles are within one bucket (12.5 %) above the true value") {
  RttHistogram h;
  CHECK(h.percentile_ns(0.99) == 0);
  for (int i = 1; i <= 100; ++i) h.add(i * 100 * us);  // 0.1 ms .. 10 ms
  CHECK(h.count() == 100);
  const int64_t p50 = h.percentile_ns(0.5), p99 = h.percentile_ns(0.99), p100 = h.percentile_ns(1.0);
  CHECK(p50 >= 5 * ms);
  CHECK(p50 <= 5 * ms * 9 / 8);
  CHECK(p99 >= 9900 * us);
  CHECK(p99 <= 9900 * us * 9 / 8);
  CHECK(p100 >= 10 * ms);
  CHECK(p100 <= 10 * ms * 9 / 8);
}

TEST_CASE("RTT buckets are exact below 8 us and never lose a sample at the extremes") {
  RttHistogram h;
  h.add(0);       // no RTT: not a sample
  h.add(-5);
  CHECK(h.count() == 0);
  h.add(3 * us);
  CHECK(h.percentile_ns(1.0) == 4 * us);  // the bucket [3, 4) us
  h.add(int64_t(1) << 62);                // absurdly late: the last bucket, not out of bounds
  CHECK(h.count() == 2);
  CHECK(h.percentile_ns(1.0) > WaitLimits{}.ceiling_ns);  // beyond any wait
  CHECK(h.percentile_ns(0.5) == 4 * us);
  h.add(40'000 * ms);  // 2^25 us and more: the last bucket too
  CHECK(h.percentile_ns(0.6) == h.percentile_ns(1.0));
}

TEST_CASE("one slow answer in a hundred does not stretch the wait") {
  RttHistogram h;
  for (int i = 0; i < 999; ++i) h.add(50 * us);  // veth: about 50 us
  h.add(900 * ms);                               // one SYN/ACK retransmitted late
  const auto w = wait_from_rtts(h);
  CHECK(w.source == WaitSource::measured);
  CHECK(w.ns == WaitLimits{}.floor_ns);  // 2 x 56 us + 2 ms is under the 5 ms floor
}

TEST_CASE("waits follow the measured RTT between the floor and the ceiling") {
  RttHistogram five;
  for (int i = 0; i < 200; ++i) five.add(10 * ms + i * us);  // 5 ms each way
  const auto w = wait_from_rtts(five);
  CHECK(w.source == WaitSource::measured);
  CHECK(w.ns >= 2 * 10 * ms + WaitLimits{}.margin_ns);
  CHECK(w.ns <= 2 * 10 * ms * 9 / 8 + WaitLimits{}.margin_ns);

  RttHistogram far;
  for (int i = 0; i < 10; ++i) far.add(8000 * ms);
  CHECK(wait_from_rtts(far).ns == WaitLimits{}.ceiling_ns);

  const RttHistogram none;
  const auto start = wait_from_rtts(none);
  CHECK(start.source == WaitSource::start);
  CHECK(start.ns == 1000 * ms);
  WaitLimits custom;
  custom.start_ns = 5 * ms;  // a start below the floor is raised to it
  CHECK(wait_from_rtts(none, custom).ns == custom.floor_ns);
}

TEST_CASE("a receiver that reads replies late stretches the wait by its lag") {
  RttHistogram lan;
  for (int i = 0; i < 1000; ++i) lan.add(50 * us);
  WaitLimits quiet;
  quiet.reader_lag_ns = 1 * ms;  // the ring's 1 ms handover on an idle machine
  CHECK(wait_from_rtts(lan, quiet).ns == quiet.floor_ns);
  WaitLimits loaded;
  loaded.reader_lag_ns = 30 * ms;  // the receiver thread lost its CPU for a while
  const auto w = wait_from_rtts(lan, loaded);
  CHECK(w.source == WaitSource::measured);
  CHECK(w.ns >= 30 * ms + loaded.margin_ns);
  CHECK(w.ns <= 30 * ms + loaded.margin_ns + 2 * 57 * us);
  WaitLimits odd;
  odd.reader_lag_ns = -5 * ms;  // clocks stepped back: no lag, never a shorter wait
  CHECK(wait_from_rtts(lan, odd).ns == odd.floor_ns);
}

TEST_CASE("rounds: one retry always; on a clean path exactly one") {
  CHECK(another_round({298}, 167, 10));        // 167 silent after round 0: the retry
  CHECK_FALSE(another_round({298, 0}, 167, 10));  // it found nothing, and nothing ever needed a retry
  CHECK_FALSE(another_round({298}, 0, 10));    // everything answered: no round at all
  CHECK_FALSE(another_round({298}, 167, 0));   // no retry allowed
}

TEST_CASE("rounds: a lossy path gets rounds while answers come, then until a miss is unlikely") {
  // 10 % loss each way on 1000 closed ports: ~19 % of the tries go unanswered.
  CHECK(another_round({810, 154}, 36, 10));
  CHECK(another_round({810, 154, 29, 6, 1}, 0 + 7, 10));
  // A silent round after that: q = 190/1000, one answer last: 1 * 0.19 / 0.81 = 0.23 expected.
  const std::vector<uint64_t> one_silent{810, 154, 29, 6, 1, 0};
  CHECK(expected_missed(one_silent) == Approx(0.19 / 0.81).epsilon(0.01));
  CHECK(another_round(one_silent, 6, 10));
  CHECK(another_round({810, 154, 29, 6, 1, 0, 0}, 6, 10));         // 0.045
  CHECK_FALSE(another_round({810, 154, 29, 6, 1, 0, 0, 0}, 6, 10));  // 0.0085 < 1 %
  // The cap counts retry rounds, whatever the answers.
  CHECK(another_round({100, 50, 25}, 40, 3));       // 2 retries sent, a third allowed
  CHECK_FALSE(another_round({100, 50, 25, 12}, 40, 3));  // 3 sent: the cap
}

TEST_CASE("rounds: a path where nearly every answer needed retries is capped, not divided by zero") {
  const std::vector<uint64_t> found{0, 5, 0};
  CHECK(expected_missed(found) == Approx(5 * 0.9 / 0.1));
  CHECK(another_round(found, 100, 10));
}

namespace {
IpAddress ip(const char* text) { return *IpAddress::parse(text); }
}  // namespace

TEST_CASE("networks: IPv4 by /24, IPv6 by /64") {
  CHECK(NetworkKey::of(ip("10.1.2.3")) == NetworkKey::of(ip("10.1.2.250")));
  CHECK_FALSE(NetworkKey::of(ip("10.1.2.3")) == NetworkKey::of(ip("10.1.3.3")));
  CHECK(NetworkKey::of(ip("10.1.2.3")).to_string() == "10.1.2.0/24");
  CHECK(NetworkKey::of(ip("fd00:1:2:3::1")) == NetworkKey::of(ip("fd00:1:2:3:ffff::9")));
  CHECK_FALSE(NetworkKey::of(ip("fd00:1:2:3::1")) == NetworkKey::of(ip("fd00:1:2:4::1")));
  CHECK(NetworkKey::of(ip("fd00:1:2:3::1")).to_string() == "fd00:1:2:3::/64");
  // Same leading bits, other family: other networks.
  CHECK_FALSE(NetworkKey::of(ip("0.0.0.1")) == NetworkKey::of(ip("::1")));
}

TEST_CASE("networks: the wait is the slowest probed network's, not the pooled percentile's") {
  NetworkRtts n;
  for (int i = 0; i < 5000; ++i) n.add(ip("10.0.1.5"), 50 * us, 0);  // a LAN
  for (int i = 0; i < 20; ++i) n.add(ip("10.0.2.7"), 80 * ms, 0);    // 40 ms each way
  CHECK(n.measured() == 2);
  // The pooled p99 is the LAN's: the old single-histogram wait (the floor) would be too short.
  CHECK(wait_from_rtts(n.pooled()).ns == WaitLimits{}.floor_ns);
  for (const char* a : {"10.0.1.9", "10.0.2.8"}) CHECK(n.mark_probed(ip(a), 1));
  const auto c = n.wait_after(1, false);
  CHECK(c.wait.source == WaitSource::measured);
  CHECK(c.network_set_it);
  CHECK(c.network.to_string() == "10.0.2.0/24");
  CHECK(c.network_p99_ns >= 80 * ms);
  CHECK(c.wait.ns >= 2 * 80 * ms + WaitLimits{}.margin_ns);
  CHECK(c.wait.ns <= (2 * 80 * ms) * 9 / 8 + WaitLimits{}.margin_ns);

  // Round 2 probes only the LAN again: the slow network has nothing on its way.
  CHECK(n.mark_probed(ip("10.0.1.10"), 2));
  const auto lan = n.wait_after(2, false);
  CHECK(lan.wait.ns == WaitLimits{}.floor_ns);
  CHECK(lan.network.to_string() == "10.0.1.0/24");
}

TEST_CASE("networks: one that answered during the round counts though it was probed before") {
  NetworkRtts n;
  n.add(ip("10.0.1.5"), 50 * us, 0);
  CHECK(n.mark_probed(ip("10.0.1.5"), 1));
  n.add(ip("10.0.2.7"), 200 * ms, 1);  // its first answer, to a round-0 probe, arrives in round 1
  const auto c = n.wait_after(1, false);
  CHECK(c.network.to_string() == "10.0.2.0/24");
  CHECK(c.wait.ns >= 400 * ms);
}

TEST_CASE("networks: one without answers of its own waits as the pooled estimate says") {
  NetworkRtts n;
  // Nothing answered at all: the start value.
  CHECK_FALSE(n.mark_probed(ip("10.0.3.1"), 0));
  auto c = n.wait_after(0, true);
  CHECK(c.wait.source == WaitSource::start);
  CHECK(c.wait.ns == WaitLimits{}.start_ns);
  CHECK_FALSE(c.network_set_it);

  for (int i = 0; i < 100; ++i) n.add(ip("10.0.1.5"), 30 * ms, 0);
  for (int i = 0; i < 100; ++i) n.add(ip("10.0.2.5"), 5 * ms, 0);
  CHECK(n.mark_probed(ip("10.0.2.9"), 1));
  CHECK_FALSE(n.mark_probed(ip("10.0.3.1"), 1));  // silent so far
  // The silent network waits as the pooled estimate (p99 30 ms), longer than 10.0.2.0's own.
  c = n.wait_after(1, true);
  CHECK(c.wait.source == WaitSource::measured);
  CHECK_FALSE(c.network_set_it);
  CHECK(c.wait.ns == std::max(wait_from_rtts(n.pooled()).ns, WaitLimits{}.unmeasured_floor_ns));
  CHECK(c.wait.ns >= 2 * 30 * ms + WaitLimits{}.margin_ns);
  // A LAN's estimate would be a few ms: the silent network still waits the unmeasured floor.
  NetworkRtts lan;
  for (int i = 0; i < 100; ++i) lan.add(ip("10.0.1.5"), 50 * us, 0);
  CHECK_FALSE(lan.mark_probed(ip("10.0.9.1"), 1));
  const auto silent = lan.wait_after(1, true);
  CHECK(silent.wait.source == WaitSource::measured);
  CHECK(silent.wait.ns == WaitLimits{}.unmeasured_floor_ns);
  CHECK(lan.wait_after(1, false).wait.ns == WaitLimits{}.floor_ns);  // without it: the LAN's own
  // Without the silent network, 10.0.2.0's own (5 ms p99: a 12 ms wait) is the wait.
  c = n.wait_after(1, false);
  CHECK(c.network_set_it);
  CHECK(c.wait.ns < 30 * ms);
}

TEST_CASE("networks: past the cap, networks count in the pooled estimate only") {
  NetworkRtts n;
  for (uint32_t i = 0; i < NetworkRtts::kMaxNetworks + 10; ++i)
    n.add(IpAddress::from_v4_host_order(0x0A000001u + (i << 8)), 1 * ms, 0);
  CHECK(n.measured() == NetworkRtts::kMaxNetworks);
  CHECK(n.pooled().count() == NetworkRtts::kMaxNetworks + 10);
  CHECK(n.mark_probed(IpAddress::from_v4_host_order(0x0A000001u), 1));
  CHECK_FALSE(n.mark_probed(IpAddress::from_v4_host_order(0x0A000001u + ((NetworkRtts::kMaxNetworks + 5) << 8)), 1));
}

TEST_CASE("networks: a round's silent networks that answered meanwhile no longer count as silent") {
  NetworkRtts n;
  SilentNetworks probed;
  probed.add(NetworkKey::of(ip("10.0.1.5")));  // both silent when round 0 began
  probed.add(NetworkKey::of(ip("10.0.2.5")));
  probed.add(NetworkKey::of(ip("10.0.1.9")));  // the same /24: one entry
  CHECK(n.still_silent(probed));
  n.add(ip("10.0.1.5"), 50 * us, 0);
  CHECK(n.still_silent(probed));  // 10.0.2.0/24 has not answered
  n.add(ip("10.0.2.200"), 80 * us, 0);
  CHECK_FALSE(n.still_silent(probed));
  probed.clear();
  CHECK_FALSE(n.still_silent(probed));

  // More silent networks than the note holds: all count as still silent.
  SilentNetworks many;
  for (int i = 0; i < int(SilentNetworks::kMax) + 1; ++i)
    many.add(NetworkKey::of(IpAddress::from_v4_host_order(0x0B000000u | uint32_t(i) << 8)));
  CHECK(many.overflowed());
  CHECK(n.still_silent(many));
}

TEST_CASE("networks: the table is sized for the networks the targets fall in") {
  const auto count = [](std::initializer_list<const char*> targets, size_t cap = NetworkRtts::kMaxNetworks) {
    TargetSet set(TargetOptions{Family::any, true});
    for (const char* t : targets) REQUIRE(set.add(t));
    REQUIRE(set.finalize());
    return networks_in(set, cap);
  };
  CHECK(count({"10.0.0.1"}) == 1);
  CHECK(count({"10.99.0.0/16"}) == 256);
  CHECK(count({"10.0.0.250-10.0.1.5"}) == 2);  // a range over a /24 boundary
  CHECK(count({"10.0.0.1", "10.0.0.9", "fd00::1"}) == 3);
  CHECK(count({"fd00::/120", "fd00:0:0:1::/120", "fd00::9"}) == 2);
  CHECK(count({"10.0.0.0/8"}) == NetworkRtts::kMaxNetworks);
  CHECK(count({"10.0.0.0/22", "10.1.0.0/22"}, 6) == 6);

  // A table for one network measures it, and a second network (never a target, so never
  // expected) counts in the pooled estimate only.
  NetworkRtts one(1);
  one.add(ip("10.0.1.5"), 2 * ms, 0);
  one.add(ip("10.0.2.5"), 40 * ms, 0);
  CHECK(one.measured() == 1);
  CHECK(one.pooled().count() == 2);
  CHECK(one.mark_probed(ip("10.0.1.9"), 1));
  CHECK_FALSE(one.mark_probed(ip("10.0.2.9"), 1));
  CHECK(one.wait_after(1, false).network.to_string() == "10.0.1.0/24");
}
