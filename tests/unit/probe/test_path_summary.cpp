// A trace's hops put together: each change at the first hop whose quote shows it, after the last
// hop that could see that field unchanged; the stop point; the verdict in words. The quotes are
// real diffs of crafted SYNs, so the test goes through diff_quoted_segment as the tool does.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tcpkit/probe/path_summary.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/segment_diff.hpp"

using namespace tcpkit;

namespace {

SegmentSpec sent_spec() {
  SegmentSpec s;
  s.src = *IpAddress::parse("10.0.1.2");
  s.dst = *IpAddress::parse("10.0.4.2");
  s.sport = 40000;
  s.dport = 80;
  s.seq = 1000;
  s.flags = tcp_flag::syn;
  s.options = linux_layout(1460, 5, 7);
  return s;
}

// What a router at `hop` quotes when the SYN left the middlebox as `seen`, cut to `cut` bytes.
HopAnswer quoted_hop(int hop, const char* router, const SegmentSpec& seen, size_t cut = 0) {
  const auto sent = *craft_segment(sent_spec());
  auto quote = *craft_segment(seen);
  if (cut) quote.resize(cut);
  HopAnswer h;
  h.hop = hop;
  h.router = IpAddress::parse(router);
  h.diff = diff_quoted_segment(sent, quote);
  return h;
}

SegmentSpec clamped() {
  SegmentSpec s = sent_spec();
  TcpOptions o;
  o.add_mss(1200).add_nop().add_nop().add_timestamps(5, 0).add_nop().add_window_scale(7);
  s.options = o;
  return s;
}

}  // namespace

TEST_CASE("path summary: changes first seen at hop 3 are between hop 2 and hop 3; then dropped") {
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()), quoted_hop(2, "10.0.2.2", sent_spec()),
                                       quoted_hop(3, "10.0.3.2", clamped()), HopAnswer{4, {}, {}, false, false, 0, 0}};
  const PathSummary s = summarize_path(hops, std::nullopt);
  // SACK-permitted overwritten by two NOPs is one change, not also two NOPs added.
  REQUIRE(s.changes.size() == 2);
  CHECK(change_phrase(s.changes[0].change) == "MSS clamped to 1200");
  CHECK(attribution_text(s.changes[0]) == "between hop 2 and hop 3");
  CHECK(change_phrase(s.changes[1].change) == "SACK-permitted stripped");
  CHECK(s.changes[1].from == 2);
  CHECK(s.changes[1].to == 3);
  CHECK(s.stop == PathStop::dropped);
  CHECK(s.last_hop == 3);
  CHECK(s.verdict ==
        "MSS clamped to 1200 between hop 2 and hop 3; SACK-permitted stripped between hop 2 and hop 3; the SYN is "
        "dropped after hop 3 (last answer from 10.0.3.2), or what answered it from further on was dropped on the way "
        "back (a firewall that drops the SYN/ACK looks the same from here)");
}

TEST_CASE("path summary: time exceeded from the last hop probed is no drop: the path is longer than -m") {
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()), quoted_hop(2, "10.0.2.2", sent_spec())};
  const PathSummary s = summarize_path(hops, std::nullopt, std::nullopt, 2);
  CHECK(s.stop == PathStop::past_max_hops);
  CHECK(std::string(path_stop_name(s.stop)) == "past max hops");
  CHECK(s.verdict == "no change to the SYN seen; the SYN went on past hop 2 (last answer from 10.0.2.2), the last "
                     "hop probed: the destination is further away (a larger -m reaches it)");
  // A silent last hop probed still reads as a drop after the last hop that answered.
  CHECK(summarize_path(hops, std::nullopt, std::nullopt, 3).stop == PathStop::dropped);
  CHECK(summarize_path(hops, std::nullopt).stop == PathStop::dropped);
}

TEST_CASE("path summary: a router that answers again after another is a routing loop, not a longer path") {
  // Found: r3 routed the server's network back to r2, and hops 2 to 6 alternated between them;
  // the verdict said a larger -m reaches the destination, which no SYN ever reached.
  std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.0.2", sent_spec())};
  for (int hop = 2; hop <= 6; ++hop) hops.push_back(quoted_hop(hop, hop % 2 ? "10.0.2.2" : "10.0.1.2", sent_spec()));
  const PathSummary s = summarize_path(hops, std::nullopt, std::nullopt, 6);
  CHECK(s.stop == PathStop::loop);
  CHECK(std::string(path_stop_name(s.stop)) == "routing loop");
  CHECK(s.last_hop == 6);
  REQUIRE(s.loop_routers.size() == 2);
  CHECK(s.loop_routers[0].to_string() == "10.0.1.2");
  CHECK(s.loop_routers[1].to_string() == "10.0.2.2");
  CHECK(s.verdict == "no change to the SYN seen; a routing loop: 10.0.1.2 answered at hop 2 and again at hop 4, the "
                     "SYN going round 10.0.1.2 and 10.0.2.2 (2 hops a turn): it never reaches the destination, and "
                     "a larger -m will not help");
  // Rate-limited routers fall silent late in a loop: still the loop, not a drop after the last answer.
  std::vector<HopAnswer> quiet(hops.begin(), hops.begin() + 5);
  quiet.push_back(HopAnswer{6, {}, {}, false, false, 0, 0});
  CHECK(summarize_path(quiet, std::nullopt, std::nullopt, 6).stop == PathStop::loop);
  // A silent hop between two answers of one router shows no other router there: the first
  // turn seen whole is the next one.
  std::vector<HopAnswer> gap = hops;
  gap[2] = HopAnswer{3, {}, {}, false, false, 0, 0};
  const PathSummary g = summarize_path(gap, std::nullopt, std::nullopt, 6);
  CHECK(g.stop == PathStop::loop);
  CHECK(g.loop_routers.size() == 2);
  CHECK(loop_turn(gap).hops == std::vector<int>{4, 5});
  CHECK(loop_turn(gap).again == 6);
  // One pair alone (X, Y, X): per-packet load balancing over paths of unequal length shows it
  // too, and the verdict says so; a hop answered by several routers is balancing: no loop.
  const std::vector<HopAnswer> once(hops.begin(), hops.begin() + 4);
  const PathSummary o = summarize_path(once, std::nullopt, std::nullopt, 4);
  CHECK(o.stop == PathStop::loop);
  CHECK_FALSE(loop_turn(once).confirmed);
  CHECK(loop_turn(hops).confirmed);
  CHECK_THAT(o.verdict, Catch::EndsWith("(one turn seen: per-packet load balancing over paths of unequal length "
                                        "shows the same)"));
  std::vector<HopAnswer> balanced = hops;
  balanced[3].several_routers = true;
  CHECK(loop_turn(balanced).hops.empty());
  CHECK(summarize_path(balanced, std::nullopt, std::nullopt, 6).stop == PathStop::past_max_hops);
  // One router at hops in a row (it answered for a hop it did not forward) is no loop.
  const std::vector<HopAnswer> twice = {quoted_hop(1, "10.0.0.2", sent_spec()), quoted_hop(2, "10.0.1.2", sent_spec()),
                                        quoted_hop(3, "10.0.1.2", sent_spec()), quoted_hop(4, "10.0.2.2", sent_spec())};
  CHECK(loop_turn(twice).hops.empty());
  CHECK(summarize_path(twice, std::nullopt, std::nullopt, 4).stop == PathStop::past_max_hops);
  // A destination that answered all the same: the SYN got through, whatever the routers said.
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.4.2");
  d.flags = tcp_flag::syn | tcp_flag::ack;
  CHECK(summarize_path(hops, d).stop == PathStop::reached);
  // A NAT's rewritten answers all come from the address probed: not one router going round.
  std::vector<HopAnswer> natted = {quoted_hop(1, "10.0.0.2", sent_spec()), quoted_hop(2, "10.0.4.2", sent_spec()),
                                   quoted_hop(3, "10.0.9.9", sent_spec()), quoted_hop(4, "10.0.4.2", sent_spec())};
  CHECK(loop_turn(natted, IpAddress::parse("10.0.4.2")).hops.empty());
}

TEST_CASE("path summary: a silent or partial hop widens the attribution, it never guesses") {
  SegmentSpec windowed = sent_spec();
  windowed.window = 1000;
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()),
                                       quoted_hop(2, "10.0.2.2", sent_spec(), 28),  // RFC 792: 8 bytes of TCP
                                       HopAnswer{3, {}, {}, false, false, 0, 0},
                                       quoted_hop(4, "10.0.4.1", windowed)};
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.4.2");
  d.flags = tcp_flag::syn | tcp_flag::ack;
  d.options.add_mss(1460);
  const PathSummary s = summarize_path(hops, d);
  REQUIRE(s.changes.size() == 1);
  CHECK(attribution_text(s.changes[0]) == "between hop 1 and hop 4");
  CHECK(s.stop == PathStop::reached);
  CHECK(s.verdict == "window 64240 -> 1000 between hop 1 and hop 4; the SYN reached 10.0.4.2, which answered SYN+ACK (mss 1460)");
}

TEST_CASE("path summary: an ICMP unreachable is a rejection, named, by the router that sent it") {
  HopAnswer reject;
  reject.hop = 2;
  reject.router = IpAddress::parse("10.0.2.2");
  reject.unreachable = true;
  reject.icmp_type = 3;
  reject.icmp_code = 13;
  const PathSummary s = summarize_path({quoted_hop(1, "10.0.1.1", sent_spec()), reject}, std::nullopt);
  CHECK(s.stop == PathStop::rejected);
  CHECK(s.changes.empty());
  CHECK(s.verdict == "the SYN is rejected at hop 2 by 10.0.2.2 (communication administratively prohibited)");
  CHECK(summarize_path({}, std::nullopt).stop == PathStop::no_answer);
  // From the address probed: the destination's own reject rule, no router on the way (found:
  // read as a rejection on the way).
  const PathSummary own = summarize_path({quoted_hop(1, "10.0.1.1", sent_spec()), reject}, std::nullopt,
                                         IpAddress::parse("10.0.2.2"));
  CHECK(own.stop == PathStop::rejected);
  CHECK_THAT(own.verdict, Catch::StartsWith("the SYN is rejected at hop 2 by 10.0.2.2 (communication administratively "
                                            "prohibited), the address probed: the destination's own firewall"));
}

TEST_CASE("path summary: a change seen at hop 1 is between the sender and hop 1, and counted once") {
  SegmentSpec moved = sent_spec();
  moved.sport = 41000;
  const PathSummary s = summarize_path({quoted_hop(1, "10.0.1.1", moved), quoted_hop(2, "10.0.2.2", moved)}, std::nullopt);
  REQUIRE(s.changes.size() == 1);
  CHECK(attribution_text(s.changes[0]) == "between the sender and hop 1");
  CHECK(to_string(s.changes[0].change) == "sport 40000 -> 41000");
}

TEST_CASE("path summary: a change of the TCP flags is named by the flags cleared and set") {
  FieldChange c;
  c.field = SegmentField::flags;
  c.before = "SEW";
  c.after = "S";
  CHECK(change_phrase(c) == "ECE and CWR cleared");
  c.after = "SU";
  CHECK(change_phrase(c) == "ECE and CWR cleared, URG set");
  c.before = "S";
  c.after = "S.";
  CHECK(change_phrase(c) == "ACK set");
}

TEST_CASE("path summary: an answer whose TTL says it came from a nearer hop is a middlebox's") {
  CHECK(answer_hop(64) == 1);   // sent by the next hop
  CHECK(answer_hop(61) == 4);
  CHECK(answer_hop(125) == 4);  // an initial 128
  CHECK(answer_hop(250) == 6);  // an initial 255
  CHECK(answer_hop(30) == 3);   // an initial 32
  CHECK(answer_hop(0) == 0);
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()), quoted_hop(2, "10.0.2.2", sent_spec())};
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.4.2");
  d.flags = tcp_flag::rst | tcp_flag::ack;
  d.hop = 3;
  d.ttl = 63;  // a firewall at hop 2 resetting in the destination's name (nft reject with tcp reset)
  const PathSummary forged = summarize_path(hops, d);
  CHECK(forged.answered_from_hop == 2);
  CHECK(forged.verdict.find("says it came from hop 2: a middlebox there") != std::string::npos);
  CHECK(forged.verdict.find("the SYN reached") == std::string::npos);
  d.ttl = 62;  // two routers back: the destination itself at hop 3
  const PathSummary real = summarize_path(hops, d);
  CHECK(real.answered_from_hop == 0);
  CHECK(real.verdict == "no change to the SYN seen; the SYN reached 10.0.4.2, which answered RST+ACK");
  d.ttl = 0;  // not known: no judgement
  CHECK(summarize_path(hops, d).answered_from_hop == 0);
}

TEST_CASE("path summary: an answer whose TTL says it came from further away names a TTL raise or a longer way back") {
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()), quoted_hop(2, "10.0.2.2", sent_spec())};
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.4.2");
  d.flags = tcp_flag::syn | tcp_flag::ack;
  d.hop = 3;
  d.ttl = 61;  // four hops back, but TTL 3 got it: hop 2 set the SYN's TTL to 64 (nft ip ttl set 64)
  const PathSummary s = summarize_path(hops, d);
  CHECK(s.answered_from_hop == 0);
  CHECK(s.answered_from_further_hop == 4);
  CHECK(s.verdict == "no change to the SYN seen; the SYN reached 10.0.4.2, which answered SYN+ACK; that answer's TTL "
                     "(61) says it came from hop 4, further than hop 3 where our SYN first reached it: a router at hop "
                     "2 or 3 may raise the TTL of what it forwards (TTL normalisation), hiding the hops beyond it, "
                     "or the way back is longer than the way out");
  // Hop 3 itself, raising before its own expiry check (nft at prerouting), lets TTL 3 through as
  // well; a nearer one would have let TTL 2 through (it said "hop 2 or nearer", and "hop 1 or
  // nearer" for a raise at hop 2).
  // At hop 1: the first router (raising at prerouting), or no raise at all.
  d.hop = 1;
  CHECK(summarize_path({}, d).verdict.find("a router at hop 1 may raise the TTL of what it forwards (TTL "
                                           "normalisation), hiding the hops beyond it, or the way back is longer than "
                                           "the way out, or the destination starts from an unusual TTL") !=
        std::string::npos);
  d.hop = 4;  // as far as it says: nothing to tell
  CHECK(summarize_path(hops, d).answered_from_further_hop == 0);
}

TEST_CASE("path summary: an answer from another port, or naming no SYN, still reached; the verdict says so") {
  const std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec())};
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.4.2");
  d.flags = tcp_flag::syn | tcp_flag::ack;
  d.hop = 2;
  d.probed_port = 80;
  CHECK(summarize_path(hops, d).verdict == "no change to the SYN seen; the SYN reached 10.0.4.2, which answered SYN+ACK");
  d.other_port = 8080;
  auto s = summarize_path(hops, d);
  CHECK(s.stop == PathStop::reached);
  CHECK_THAT(s.verdict, Catch::EndsWith("; it answered from port 8080, not port 80: something on the way rewrote the "
                                        "destination port and not the answer back (a connection fails)"));
  d.other_port.reset();
  d.unpaired = true;
  s = summarize_path(hops, d);
  CHECK(s.stop == PathStop::reached);
  CHECK_THAT(s.verdict, Catch::Contains("its ack names none of our SYNs"));
}

TEST_CASE("path summary: an answer whose TTL points at a hop that never answered names no middlebox") {
  // Found on a lossy link: the probes that reached the destination at TTL 1 and 2 were lost, the
  // TTL-3 one answered with TTL 64 (hop 1), and tcppath named "a middlebox there".
  const std::vector<HopAnswer> silent = {HopAnswer{1}, HopAnswer{2}};
  DestinationAnswer d;
  d.from = *IpAddress::parse("10.0.0.2");
  d.flags = tcp_flag::syn | tcp_flag::ack;
  d.hop = 3;
  d.ttl = 64;
  auto s = summarize_path(silent, d);
  CHECK(s.stop == PathStop::reached);
  CHECK(s.answered_from_hop == 1);
  CHECK(s.answered_from_silent_hop);
  CHECK(s.verdict.find("a middlebox there") == std::string::npos);
  CHECK_THAT(s.verdict, Catch::Contains("says it came from hop 1, where nothing answered our probes: the destination "
                                        "may be there"));
  // The same with a router that answered at hop 1: a middlebox there is the likely sender.
  const std::vector<HopAnswer> router = {quoted_hop(1, "10.0.1.1", sent_spec()), HopAnswer{2}};
  s = summarize_path(router, d);
  CHECK_FALSE(s.answered_from_silent_hop);
  CHECK_THAT(s.verdict, Catch::Contains("says it came from hop 1: a middlebox there"));
}

TEST_CASE("path summary: time exceeded from the address probed is a NAT's rewrite") {
  const auto probed = IpAddress::parse("10.0.4.2");
  std::vector<HopAnswer> hops = {quoted_hop(1, "10.0.1.1", sent_spec()), quoted_hop(2, "10.0.4.2", sent_spec()),
                                 quoted_hop(3, "10.0.4.2", sent_spec()), HopAnswer{4, {}, {}, false, false, 0, 0}};
  PathSummary s = summarize_path(hops, std::nullopt, probed);
  CHECK(s.nat_rewritten_hops == std::vector<int>{2, 3});
  CHECK(s.stop == PathStop::dropped);
  CHECK(s.verdict.find("hops 2 and 3 answered from 10.0.4.2, the address probed") != std::string::npos);
  CHECK(s.verdict.find("likely at hop 2") != std::string::npos);
  CHECK(s.verdict.find("dropped after hop 3 (which router that is, is not known") != std::string::npos);
  CHECK(s.verdict.find("last answer from") == std::string::npos);
  // Without the address probed, or from other addresses, no such sign.
  CHECK(summarize_path(hops, std::nullopt).nat_rewritten_hops.empty());
  CHECK(summarize_path(hops, std::nullopt, IpAddress::parse("10.0.9.9")).nat_rewritten_hops.empty());
  // The destination refusing the SYN (port unreachable, after the NAT) is no router's answer.
  hops[2].unreachable = true;
  s = summarize_path(hops, std::nullopt, probed);
  CHECK(s.nat_rewritten_hops == std::vector<int>{2});
  CHECK(s.verdict.find("hop 2 answered from 10.0.4.2") != std::string::npos);
}
