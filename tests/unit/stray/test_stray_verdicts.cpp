// tcpstray's catalogue and verdict logic, fed answers recorded from a Linux 6.x peer in the lab
// (numbers copied from real runs) and hand-made misbehaving ones.
#include <catch2/catch.hpp>

#include <set>

#include "tcpkit/wire/segment.hpp"
#include "tcpkit/stray/stray_case.hpp"
#include "tcpkit/stray/stray_run.hpp"
#include "tcpkit/stray/stray_verdict.hpp"

using namespace tcpkit;
namespace f = tcp_flag;

namespace {

StraySegment in(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t window = 64, uint32_t length = 0) {
  StraySegment s;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.window = window;
  s.payload_length = length;
  return s;
}

StraySegment icmp(const char* text) {
  StraySegment s;
  s.icmp = true;
  s.icmp_text = text;
  return s;
}

StrayProbe probe(uint8_t flags, uint32_t seq, uint32_t ack = 0, uint32_t length = 0) {
  StrayProbe p;
  p.flags = flags;
  p.seq = seq;
  p.ack = ack;
  p.payload_length = length;
  return p;
}

// A live connection's probe: the peer expects 3555495829 from us and sends from 2148305113.
constexpr uint32_t kRcvNxt = 3555495829u, kSndNxt = 2148305113u;
StrayProbe live(uint8_t flags, uint32_t seq, uint32_t ack = kSndNxt) {
  StrayProbe p = probe(flags, seq, ack);
  p.peer_rcv_nxt = kRcvNxt;
  p.peer_snd_nxt = kSndNxt;
  return p;
}

StrayObservation answers(std::vector<StraySegment> list) {
  StrayObservation o;
  o.answers = std::move(list);
  return o;
}

// The answers of a tw-rst or tw-syn whose FIN, sent again just before, was acked: the peer
// held a TIME_WAIT.
StrayObservation in_time_wait(std::vector<StraySegment> list) {
  StrayObservation o = answers(std::move(list));
  o.pre_check_sent = true;
  o.pre_check = live(f::fin | f::ack, kRcvNxt - 1);
  o.pre_check_answers = {in(f::ack, kSndNxt, kRcvNxt)};
  return o;
}

// The answers of a live-rst-out-of-window whose pure ACK at the same seq, sent after the RST,
// drew `follow`.
StrayObservation then_ack(std::vector<StraySegment> list, std::vector<StraySegment> follow) {
  StrayObservation o = answers(std::move(list));
  o.follow_up_sent = true;
  o.follow_up = live(f::ack, kRcvNxt + 130696);
  o.follow_up_answers = std::move(follow);
  return o;
}

StrayVerdict verdict(StrayCase id, const StrayProbe& p, const StrayObservation& o) {
  return judge_stray_case(id, p, o).verdict;
}

}  // namespace

TEST_CASE("the catalogue has every case the issue names, once, in group order", "[stray]") {
  const std::vector<std::string_view> required = {
      "closed-fin", "closed-ack", "closed-null", "closed-xmas", "closed-syn-fin", "closed-rst",
      "listen-fin", "listen-null", "listen-xmas", "listen-ack", "listen-rst",
      "live-rst-exact", "live-rst-in-window", "live-rst-out-of-window", "live-syn", "live-ack-unsent",
      "live-data-old", "live-fin-exact", "live-fin-out-of-window",
      "tw-fin-retransmit", "tw-rst", "tw-syn"};
  const auto catalogue = stray_catalogue();
  REQUIRE(catalogue.size() == required.size());
  std::set<std::string_view> names;
  int last_group = -1;
  for (size_t i = 0; i < catalogue.size(); ++i) {
    const auto& c = catalogue[i];
    CHECK(c.name == required[i]);
    names.insert(c.name);
    CHECK(int(c.group) >= last_group);
    last_group = int(c.group);
    CHECK(!c.purpose.empty());
    CHECK(!c.sent.empty());
    CHECK(!c.expected.empty());
    CHECK(c.rfc.find("RFC") == 0);
    REQUIRE(find_stray_case(c.name) == c.id);
    CHECK(stray_case_info(c.id).name == c.name);
    // Every enumerator maps back to its own entry (stray_case_info falls back to the first).
    CHECK(&stray_case_info(c.id) == &catalogue[i]);
  }
  CHECK(names.size() == required.size());
  CHECK_FALSE(find_stray_case("closed"));
  CHECK_FALSE(find_stray_case("CLOSED-FIN"));
}

TEST_CASE("groups parse and hold their cases", "[stray]") {
  CHECK(parse_stray_group("closed") == StrayGroup::closed);
  CHECK(parse_stray_group("listen") == StrayGroup::listen);
  CHECK(parse_stray_group("live") == StrayGroup::live);
  CHECK(parse_stray_group("time-wait") == StrayGroup::time_wait);
  CHECK_FALSE(parse_stray_group("established"));
  CHECK_FALSE(parse_stray_group(""));
  CHECK(stray_cases_in(StrayGroup::closed).size() == 6);
  CHECK(stray_cases_in(StrayGroup::listen).size() == 5);
  CHECK(stray_cases_in(StrayGroup::live).size() == 8);
  CHECK(stray_cases_in(StrayGroup::time_wait).size() == 3);
  for (auto g : {StrayGroup::closed, StrayGroup::listen, StrayGroup::live, StrayGroup::time_wait})
    CHECK(parse_stray_group(stray_group_name(g)) == g);
}

TEST_CASE("closed port: RST with seq 0 and ack SEG.SEQ+SEG.LEN, or seq SEG.ACK", "[stray]") {
  // Recorded: FIN seq=2576027794 -> R. seq=0 ack=2576027795.
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 2576027794u), answers({in(f::rst | f::ack, 0, 2576027795u, 0)})) ==
        StrayVerdict::conformant);
  // SYN+FIN counts two: recorded ack = seq+2.
  CHECK(verdict(StrayCase::closed_syn_fin, probe(f::syn | f::fin, 2903676624u),
                answers({in(f::rst | f::ack, 0, 2903676626u, 0)})) == StrayVerdict::conformant);
  CHECK(verdict(StrayCase::closed_syn_fin, probe(f::syn | f::fin, 2903676624u),
                answers({in(f::rst | f::ack, 0, 2903676625u, 0)})) == StrayVerdict::deviation);
  // NULL has no length: ack = seq.
  CHECK(verdict(StrayCase::closed_null, probe(0, 1324757154u), answers({in(f::rst | f::ack, 0, 1324757154u, 0)})) ==
        StrayVerdict::conformant);
  CHECK(verdict(StrayCase::closed_xmas, probe(f::fin | f::psh | f::urg, 3978041705u),
                answers({in(f::rst | f::ack, 0, 3978041706u, 0)})) == StrayVerdict::conformant);
  // ACK: R seq=SEG.ACK (recorded).
  CHECK(verdict(StrayCase::closed_ack, probe(f::ack, 357213944u, 2530011121u), answers({in(f::rst, 2530011121u, 0, 0)})) ==
        StrayVerdict::conformant);
  CHECK(verdict(StrayCase::closed_ack, probe(f::ack, 357213944u, 2530011121u), answers({in(f::rst, 0, 0, 0)})) ==
        StrayVerdict::deviation);
  // Non-zero seq without ACK in the probe, missing ACK flag, no answer, wrong kind of answer.
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), answers({in(f::rst | f::ack, 7, 101, 0)})) == StrayVerdict::deviation);
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), answers({in(f::rst, 0, 101, 0)})) == StrayVerdict::deviation);
  auto silent = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 100), answers({}));
  CHECK(silent.verdict == StrayVerdict::deviation);
  CHECK(silent.observed == "silence");
  CHECK_FALSE(silent.rate_limit_possible);
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), answers({in(f::syn | f::ack, 5, 101)})) == StrayVerdict::deviation);
  // A firewall's ICMP error is not the stack's answer.
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), answers({icmp("port unreachable")})) == StrayVerdict::inconclusive);
}

TEST_CASE("RST to a closed port and FIN/NULL/Xmas/RST to a listener expect silence", "[stray]") {
  for (auto id : {StrayCase::closed_rst, StrayCase::listen_fin, StrayCase::listen_null, StrayCase::listen_xmas,
                  StrayCase::listen_rst}) {
    CHECK(verdict(id, probe(f::fin, 1), answers({})) == StrayVerdict::conformant);
    // What the lab's misbehaving responder sends: an RST to everything.
    CHECK(verdict(id, probe(f::fin, 1), answers({in(f::rst | f::ack, 0, 2, 0)})) == StrayVerdict::deviation);
    CHECK(verdict(id, probe(f::fin, 1), answers({icmp("administratively prohibited")})) == StrayVerdict::inconclusive);
  }
  // listen-ack: recorded R seq=SEG.ACK.
  CHECK(verdict(StrayCase::listen_ack, probe(f::ack, 1137471218u, 2516609756u), answers({in(f::rst, 2516609756u, 0, 0)})) ==
        StrayVerdict::conformant);
  CHECK(verdict(StrayCase::listen_ack, probe(f::ack, 1, 2), answers({})) == StrayVerdict::deviation);
}

TEST_CASE("live RST at RCV.NXT: silence, then the next segment draws an RST", "[stray]") {
  StrayObservation o = answers({});
  o.follow_up_sent = true;
  o.follow_up = live(f::psh | f::ack, kRcvNxt);
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  auto j = judge_stray_case(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o);
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK(j.observed == "silence, then R seq=SND.NXT win=0");
  CHECK(j.observed_flags == "silence then R");  // the table's column, like SENT's "R then P."
  o.follow_up_answers = {in(f::ack, kSndNxt, kRcvNxt + 1)};  // the byte was acked: still alive
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::deviation);
  o.follow_up_answers = {};
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::inconclusive);
  o = answers({in(f::ack, kSndNxt, kRcvNxt)});  // a challenge ACK to an exact RST
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::deviation);
}

TEST_CASE("challenge and duplicate ACKs must ack RCV.NXT; silence may be a rate limit", "[stray]") {
  const StraySegment challenge = in(f::ack, kSndNxt, kRcvNxt);  // recorded from Linux
  for (auto id : {StrayCase::live_rst_in_window, StrayCase::live_syn, StrayCase::live_ack_unsent, StrayCase::live_data_old,
                  StrayCase::live_fin_out_of_window}) {
    const StrayProbe p = live(f::rst, kRcvNxt + 32580);
    auto good = judge_stray_case(id, p, answers({challenge}));
    CHECK(good.verdict == StrayVerdict::conformant);
    CHECK(good.observed == ". seq=SND.NXT ack=RCV.NXT win=64");
    auto none = judge_stray_case(id, p, answers({}));
    CHECK(none.verdict == StrayVerdict::deviation);
    CHECK(none.rate_limit_possible);
    CHECK(verdict(id, p, answers({in(f::rst, kSndNxt, 0, 0)})) == StrayVerdict::deviation);
    CHECK(verdict(id, p, answers({in(f::ack, kSndNxt, kRcvNxt + 7)})) == StrayVerdict::deviation);
    // The right ACK, but a reset as well (a middlebox or a second responder): still a deviation.
    CHECK(verdict(id, p, answers({challenge, in(f::rst | f::ack, 0, kRcvNxt, 0)})) == StrayVerdict::deviation);
  }
  // The out-of-window FIN accepted (acked past it) is named as such.
  const StrayProbe fin = live(f::fin | f::ack, kRcvNxt + 130696);
  auto taken = judge_stray_case(StrayCase::live_fin_out_of_window, fin, answers({in(f::ack, kSndNxt, kRcvNxt + 130697)}));
  CHECK(taken.verdict == StrayVerdict::deviation);
  CHECK(taken.reason.find("accepted") != std::string::npos);
  // Without the connection's numbers nothing can be judged.
  CHECK(verdict(StrayCase::live_syn, probe(f::syn, 1), answers({challenge})) == StrayVerdict::inconclusive);
}

TEST_CASE("out-of-window RST: silence, then the duplicate ACK to an ACK at the same seq", "[stray]") {
  const StrayProbe p = live(f::rst, kRcvNxt + 130696);
  const auto dup_ack = in(f::ack, kSndNxt, kRcvNxt);
  auto j = judge_stray_case(StrayCase::live_rst_out_of_window, p, then_ack({}, {dup_ack}));
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK(j.observed == "silence, then . seq=SND.NXT ack=RCV.NXT win=64");
  CHECK_THAT(j.reason, Catch::Contains("reach the stack, and the connection lives"));
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, then_ack({dup_ack}, {dup_ack})) == StrayVerdict::deviation);
  // Found behind "ct state invalid drop": conntrack drops out-of-window segments, the RST and
  // the ACK after it alike. The RST's silence was judged conformant.
  j = judge_stray_case(StrayCase::live_rst_out_of_window, p, then_ack({}, {}));
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("drew no duplicate ACK either") && Catch::Contains("conntrack"));
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, answers({})) == StrayVerdict::inconclusive);  // not sent
  // The RST did reset the connection: the ACK after it draws an RST.
  j = judge_stray_case(StrayCase::live_rst_out_of_window, p, then_ack({}, {in(f::rst, kRcvNxt + 130696, 0, 0)}));
  CHECK(j.verdict == StrayVerdict::deviation);
  CHECK_THAT(j.reason, Catch::Contains("reset the connection"));
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, then_ack({}, {in(f::ack, kSndNxt, kRcvNxt + 7)})) ==
        StrayVerdict::deviation);
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, then_ack({}, {icmp("port unreachable")})) ==
        StrayVerdict::inconclusive);
}

TEST_CASE("a listener's silence counts only when the same segment drew a reset at the closed port", "[stray]") {
  const auto silent = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 1000), answers({}));
  REQUIRE(silent.verdict == StrayVerdict::conformant);
  REQUIRE(stray_closed_twin(StrayCase::listen_fin) == StrayCase::closed_fin);
  CHECK(stray_closed_twin(StrayCase::listen_null) == StrayCase::closed_null);
  CHECK(stray_closed_twin(StrayCase::listen_xmas) == StrayCase::closed_xmas);
  CHECK_FALSE(stray_closed_twin(StrayCase::listen_rst));  // an RST draws nothing anywhere
  CHECK_FALSE(stray_closed_twin(StrayCase::listen_ack));
  auto j = apply_twin_control(silent, StrayCase::closed_fin, 1, true);
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK_THAT(j.reason, Catch::EndsWith("drew a reset from closed port 1 (closed-fin), so it reaches the stack"));
  // Found behind "ct state invalid drop": the FIN never reached the listener.
  j = apply_twin_control(silent, StrayCase::closed_fin, 1, false);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::StartsWith("the same segment drew no reset from closed port 1 either (closed-fin)"));
  j = apply_twin_control(silent, StrayCase::closed_fin, 1, false, "port 1 is listening");
  CHECK_THAT(j.reason, Catch::StartsWith("the same segment could not be tried at a closed port (port 1 is listening)"));
  // A deviation (an answer where silence was due) needs no control.
  const auto answered = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 1000), answers({in(f::rst | f::ack, 0, 1001)}));
  CHECK(apply_twin_control(answered, StrayCase::closed_fin, 1, false).verdict == StrayVerdict::deviation);
  // The same-port control: found behind a firewall guarding the listening port alone.
  j = apply_same_port_control(apply_twin_control(silent, StrayCase::closed_fin, 1, true), 80, true);
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK_THAT(j.reason, Catch::EndsWith("; F. to listening port 80 drew a reset, so segments a firewall finds invalid "
                                       "reach the listener"));
  j = apply_same_port_control(apply_twin_control(silent, StrayCase::closed_fin, 1, true), 80, false);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::StartsWith("F. to listening port 80 drew no reset, where the listener resets it"));
  CHECK(apply_same_port_control(answered, 80, false).verdict == StrayVerdict::deviation);
}

TEST_CASE("FIN at RCV.NXT is acked (ACK or FIN+ACK), and the peer is in CLOSE_WAIT", "[stray]") {
  const StrayProbe p = live(f::fin | f::ack, kRcvNxt);
  auto j = judge_stray_case(StrayCase::live_fin_exact, p, answers({in(f::ack, kSndNxt, kRcvNxt + 1)}));
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK(j.observed == ". seq=SND.NXT ack=RCV.NXT+1 win=64 (peer CLOSE_WAIT)");
  CHECK(verdict(StrayCase::live_fin_exact, p, answers({in(f::fin | f::ack, kSndNxt, kRcvNxt + 1)})) == StrayVerdict::conformant);
  CHECK(verdict(StrayCase::live_fin_exact, p, answers({in(f::ack, kSndNxt, kRcvNxt)})) == StrayVerdict::deviation);
  CHECK(verdict(StrayCase::live_fin_exact, p, answers({})) == StrayVerdict::deviation);
}

TEST_CASE("TIME_WAIT: a retransmitted FIN is acked again", "[stray]") {
  const StrayProbe p = live(f::fin | f::ack, kRcvNxt - 1);
  CHECK(verdict(StrayCase::tw_fin_retransmit, p, answers({in(f::ack, kSndNxt, kRcvNxt)})) == StrayVerdict::conformant);
  auto reset = judge_stray_case(StrayCase::tw_fin_retransmit, p, answers({in(f::rst, kSndNxt, 0, 0)}));
  CHECK(reset.verdict == StrayVerdict::deviation);
  CHECK(reset.reason.find("TIME_WAIT") != std::string::npos);
}

TEST_CASE("TIME_WAIT RST: kept (RFC 1337) is conformant, assassinated is a deviation", "[stray]") {
  StrayObservation o = in_time_wait({});
  o.follow_up_sent = true;
  o.follow_up = live(f::fin | f::ack, kRcvNxt - 1);
  o.follow_up_answers = {in(f::ack, kSndNxt, kRcvNxt)};  // net.ipv4.tcp_rfc1337=1
  auto kept = judge_stray_case(StrayCase::tw_rst, live(f::rst, kRcvNxt), o);
  CHECK(kept.verdict == StrayVerdict::conformant);
  CHECK(kept.observed.find("TIME_WAIT kept") != std::string::npos);
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};  // net.ipv4.tcp_rfc1337=0 (Linux's default)
  auto killed = judge_stray_case(StrayCase::tw_rst, live(f::rst, kRcvNxt), o);
  CHECK(killed.verdict == StrayVerdict::deviation);
  CHECK(killed.observed.find("assassinated") != std::string::npos);
  o.follow_up_answers = {};
  CHECK(verdict(StrayCase::tw_rst, live(f::rst, kRcvNxt), o) == StrayVerdict::inconclusive);
  o.follow_up_sent = false;
  CHECK(verdict(StrayCase::tw_rst, live(f::rst, kRcvNxt), o) == StrayVerdict::inconclusive);
}

TEST_CASE("TIME_WAIT SYN: reuse with a higher ISN or a challenge ACK conform", "[stray]") {
  const StrayProbe p = live(f::syn, kRcvNxt + 65536);
  auto reused = judge_stray_case(StrayCase::tw_syn, p, in_time_wait({in(f::syn | f::ack, kSndNxt + 65537, kRcvNxt + 65537, 64240)}));
  CHECK(reused.verdict == StrayVerdict::conformant);
  CHECK(reused.observed.find("(reused)") != std::string::npos);
  CHECK(verdict(StrayCase::tw_syn, p, in_time_wait({in(f::syn | f::ack, kSndNxt - 5, kRcvNxt + 65537)})) == StrayVerdict::deviation);
  CHECK(verdict(StrayCase::tw_syn, p, in_time_wait({in(f::syn | f::ack, kSndNxt + 9, kRcvNxt)})) == StrayVerdict::deviation);
  CHECK(verdict(StrayCase::tw_syn, p, in_time_wait({in(f::ack, kSndNxt, kRcvNxt)})) == StrayVerdict::conformant);
  CHECK(verdict(StrayCase::tw_syn, p, in_time_wait({in(f::rst | f::ack, 0, kRcvNxt + 65537, 0)})) == StrayVerdict::deviation);
  auto none = judge_stray_case(StrayCase::tw_syn, p, in_time_wait({}));
  CHECK(none.verdict == StrayVerdict::deviation);
  CHECK(none.rate_limit_possible);
}

TEST_CASE("a case that could not be set up is inconclusive with the reason", "[stray]") {
  StrayObservation o;
  o.setup_problem = "could not connect: Connection refused";
  for (const auto& c : stray_catalogue()) {
    auto j = judge_stray_case(c.id, probe(0, 0), o);
    CHECK(j.verdict == StrayVerdict::inconclusive);
    CHECK(j.reason == *o.setup_problem);
  }
}

TEST_CASE("segments are described tcpdump-style", "[stray]") {
  CHECK(describe_segment(in(f::rst | f::ack, 0, 1001, 0)) == "R. seq=0 ack=1001 win=0");
  CHECK(describe_segment(in(f::psh | f::ack, 5, 6, 502, 10)) == "P. seq=5 ack=6 win=502 len=10");
  CHECK(describe_segment(in(f::rst, 9, 0, 0)) == "R seq=9 win=0");
  CHECK(describe_segment(icmp("port unreachable")) == "ICMP port unreachable");
  CHECK(to_string(StrayVerdict::deviation) == "deviation");
}

namespace {

// The peer's own segment, as the connection runner marks it.
StraySegment own(uint8_t flags, uint32_t seq, uint32_t ack, uint32_t length) {
  StraySegment s = in(flags, seq, ack, 64, length);
  s.peer_own = is_peer_own_traffic(classify_segment(flags, length));
  REQUIRE(s.peer_own);
  return s;
}

}  // namespace

TEST_CASE("received segments are classified: only pure ACK, RST and SYN can answer", "[stray]") {
  CHECK(classify_segment(f::ack, 0) == SegmentKind::pure_ack);
  CHECK(classify_segment(uint8_t(f::psh | f::ack), 41) == SegmentKind::data);
  CHECK(classify_segment(f::ack, 1) == SegmentKind::data);
  CHECK(classify_segment(uint8_t(f::fin | f::ack), 0) == SegmentKind::fin);
  CHECK(classify_segment(uint8_t(f::fin | f::psh | f::ack), 5) == SegmentKind::fin);
  CHECK(classify_segment(uint8_t(f::rst | f::ack), 0) == SegmentKind::rst);
  CHECK(classify_segment(uint8_t(f::syn | f::ack), 0) == SegmentKind::syn);
  CHECK(classify_segment(0, 0) == SegmentKind::other);
  CHECK(is_peer_own_traffic(SegmentKind::data));
  CHECK(is_peer_own_traffic(SegmentKind::fin));
  for (auto k : {SegmentKind::pure_ack, SegmentKind::rst, SegmentKind::syn, SegmentKind::other})
    CHECK_FALSE(is_peer_own_traffic(k));
  CHECK(to_string(SegmentKind::pure_ack) == "ack");
}

TEST_CASE("an SSH banner after the stray RST is not its answer", "[stray]") {
  // Found against sshd: 41 bytes of banner, ack = RCV.NXT, 55-76 ms after our RST.
  const auto p = live(f::rst, kRcvNxt + 64240 + 65536);
  const auto banner = own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 41);
  const auto j = judge_stray_case(StrayCase::live_rst_out_of_window, p, answers({banner}));
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("peer's own data (41 bytes)"));
  CHECK(j.observed == "silence (peer's own: P. seq=SND.NXT ack=RCV.NXT win=64 len=41)");
  const auto one_byte = own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 1);
  CHECK_THAT(judge_stray_case(StrayCase::live_rst_out_of_window, p, answers({one_byte})).reason,
             Catch::Contains("peer's own data (1 byte)"));
  // Unmarked (today's runner), the same bytes were a deviation.
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, answers({in(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 64, 41)})) ==
        StrayVerdict::deviation);
}

TEST_CASE("a keepalive probe is no answer, and leaves a silence decidable", "[stray]") {
  // Found against a server with keepidle=1: its probe (seq = SND.NXT-1, ack = RCV.NXT) came
  // 500 ms after the out-of-window RST and was judged the answer: a deviation.
  CHECK(is_keepalive_probe(f::ack, kSndNxt - 1, 0, kSndNxt));
  CHECK_FALSE(is_keepalive_probe(f::ack, kSndNxt, 0, kSndNxt));  // a challenge ACK: seq = SND.NXT
  CHECK_FALSE(is_keepalive_probe(uint8_t(f::rst | f::ack), kSndNxt - 1, 0, kSndNxt));
  CHECK_FALSE(is_keepalive_probe(f::ack, kSndNxt - 1, 1, kSndNxt));  // one garbage byte: data, own already
  CHECK(is_keepalive_probe(f::ack, 0xffffffffu, 0, 0));  // across the wrap
  StraySegment probe_seg = in(f::ack, kSndNxt - 1, kRcvNxt);
  probe_seg.peer_own = probe_seg.keepalive = true;
  const auto p = live(f::rst, kRcvNxt + 64240 + 65536);
  const auto j = judge_stray_case(StrayCase::live_rst_out_of_window, p, then_ack({probe_seg}, {in(f::ack, kSndNxt, kRcvNxt)}));
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK(j.observed == "silence (peer's own: . seq=SND.NXT-1 ack=RCV.NXT win=64 (keepalive)), then . seq=SND.NXT "
                      "ack=RCV.NXT win=64");
  // Sent while our window was 0 (a server streaming into a full receive queue), the same form
  // is its zero-window probe, and was labelled a keepalive.
  StraySegment window_probe = probe_seg;
  window_probe.window_probe = true;
  CHECK(judge_stray_case(StrayCase::live_rst_out_of_window, p, then_ack({window_probe}, {in(f::ack, kSndNxt, kRcvNxt)}))
            .observed == "silence (peer's own: . seq=SND.NXT-1 ack=RCV.NXT win=64 (window probe)), then . seq=SND.NXT "
                         "ack=RCV.NXT win=64");
  // Where an ACK is due, the probe does not stand for it.
  CHECK(verdict(StrayCase::live_syn, live(f::syn, kRcvNxt + 100), answers({probe_seg})) == StrayVerdict::deviation);
  // Unmarked, it was the answer.
  CHECK(verdict(StrayCase::live_rst_out_of_window, p, answers({in(f::ack, kSndNxt - 1, kRcvNxt)})) ==
        StrayVerdict::deviation);
}

TEST_CASE("the peer's own data or FIN never stands for a challenge or duplicate ACK", "[stray]") {
  const auto data = own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 41);
  const auto fin = own(uint8_t(f::fin | f::ack), kSndNxt, kRcvNxt, 0);
  for (auto id : {StrayCase::live_rst_in_window, StrayCase::live_syn, StrayCase::live_ack_unsent,
                  StrayCase::live_data_old, StrayCase::live_fin_out_of_window}) {
    const auto p = live(id == StrayCase::live_syn ? f::syn : f::rst, kRcvNxt + 100);
    for (const auto& seg : {data, fin}) {
      const auto j = judge_stray_case(id, p, answers({seg}));
      CHECK(j.verdict == StrayVerdict::inconclusive);
      CHECK_THAT(j.reason, Catch::Contains("no pure ACK came"));
      CHECK_FALSE(j.rate_limit_possible);
    }
    // The challenge ACK next to the peer's own segment still decides, whichever came first.
    const auto challenge = in(f::ack, kSndNxt + 41, kRcvNxt);
    CHECK(verdict(id, p, answers({data, challenge})) == StrayVerdict::conformant);
    CHECK(verdict(id, p, answers({challenge, fin})) == StrayVerdict::conformant);
    CHECK(verdict(id, p, answers({data, in(f::ack, kSndNxt + 41, kRcvNxt + 5)})) == StrayVerdict::deviation);
    // Silence with no traffic at all stays the deviation it was.
    CHECK(verdict(id, p, answers({})) == StrayVerdict::deviation);
  }
}

TEST_CASE("a FIN at RCV.NXT acked on the peer's own FIN is acked", "[stray]") {
  const auto p = live(uint8_t(f::fin | f::ack), kRcvNxt);
  // The server closed at once: its FIN carries the ACK of ours (no pure ACK came).
  const auto j = judge_stray_case(StrayCase::live_fin_exact, p, answers({own(uint8_t(f::fin | f::ack), kSndNxt, kRcvNxt + 1, 0)}));
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK_THAT(j.reason, Catch::Contains("peer's own FIN"));
  // Its own data acking only RCV.NXT tells nothing about our FIN.
  CHECK(verdict(StrayCase::live_fin_exact, p, answers({own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 10)})) ==
        StrayVerdict::inconclusive);
}

TEST_CASE("an out-of-window FIN acked on the peer's own segment was accepted", "[stray]") {
  const uint32_t seq = kRcvNxt + 64240 + 65536;
  const auto p = live(uint8_t(f::fin | f::ack), seq);
  const auto j = judge_stray_case(StrayCase::live_fin_out_of_window, p,
                                  answers({own(uint8_t(f::fin | f::ack), kSndNxt, seq + 1, 0)}));
  CHECK(j.verdict == StrayVerdict::deviation);
  CHECK(j.reason == "the out-of-window FIN was accepted");
}

TEST_CASE("the exact RST with the peer's own traffic around it", "[stray]") {
  auto p = live(f::rst, kRcvNxt);
  StrayObservation o = answers({own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 41)});
  o.follow_up_sent = true;
  o.follow_up = live(uint8_t(f::psh | f::ack), kRcvNxt);
  o.follow_up.payload_length = 1;
  o.follow_up_answers = {in(f::rst, kSndNxt + 41, 0)};
  CHECK(verdict(StrayCase::live_rst_exact, p, o) == StrayVerdict::inconclusive);
  // Quiet after the RST; then the peer's own data acking our byte: the connection survived.
  o.answers.clear();
  o.follow_up_answers = {own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt + 1, 41)};
  CHECK(verdict(StrayCase::live_rst_exact, p, o) == StrayVerdict::deviation);
  o.follow_up_answers = {own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 41)};
  CHECK(verdict(StrayCase::live_rst_exact, p, o) == StrayVerdict::inconclusive);
  o.follow_up_answers = {in(f::rst, kRcvNxt, 0)};
  CHECK(verdict(StrayCase::live_rst_exact, p, o) == StrayVerdict::conformant);
}

TEST_CASE("one flag notation, tcpdump's, and the short forms of the 80-column table", "[stray]") {
  for (const auto& c : stray_catalogue()) {
    INFO(c.name);
    // ACK is ".", never "A" (the observed answers come from flags_compact, which writes ".").
    const std::string sent = sent_flags(c.sent);
    CHECK(sent.find('A') == std::string::npos);
    CHECK(std::string(c.expected).find("A.") == std::string::npos);
    CHECK(sent.size() <= 9);
  }
  CHECK(sent_flags("R seq=RCV.NXT, then P. 1 byte at RCV.NXT") == "R then P.");
  CHECK(sent_flags("F. seq=RCV.NXT ack=SND.NXT") == "F.");
  CHECK(sent_flags("none seq=x") == "none");
  CHECK(sent_flags(stray_case_info(StrayCase::closed_syn_fin).sent) == flags_compact(f::syn | f::fin));

  CHECK(judge_stray_case(StrayCase::closed_fin, probe(f::fin, 10), answers({in(f::rst | f::ack, 0, 11, 0)})).observed_flags ==
        "R.");
  CHECK(judge_stray_case(StrayCase::closed_rst, probe(f::rst, 10), answers({})).observed_flags == "silence");
  StraySegment own = in(f::fin | f::ack, kSndNxt, kRcvNxt);
  own.peer_own = true;
  CHECK(judge_stray_case(StrayCase::live_syn, live(f::syn, kRcvNxt + 100), answers({in(f::ack, kSndNxt, kRcvNxt), own}))
            .observed_flags == ". (+own)");
  // Many answers stay narrow: the first few, then how many more.
  std::vector<StraySegment> many(8, in(f::ack, kSndNxt, kRcvNxt));
  const std::string narrow = judge_stray_case(StrayCase::live_syn, live(f::syn, kRcvNxt + 100), answers(many)).observed_flags;
  CHECK(narrow.size() <= 14);
  CHECK(narrow.substr(narrow.rfind('+')) == "+3");
  CHECK(judge_stray_case(StrayCase::closed_fin, probe(f::fin, 10), answers({icmp("port unreachable")})).observed_flags ==
        "ICMP");
}

TEST_CASE("a case whose capture dropped frames is inconclusive, whatever was seen") {
  // Silence where an RST is expected would be a deviation, and a listener's silence conformant;
  // with frames lost by the capture, neither can be told.
  auto silent = answers({});
  silent.capture_drops = 3;
  const auto j = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 100), silent);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK(j.reason == "capture dropped 3 frames: the answer may be among them");
  auto quiet_listener = answers({});
  quiet_listener.capture_drops = 1;
  CHECK(verdict(StrayCase::listen_fin, probe(f::fin, 100), quiet_listener) == StrayVerdict::inconclusive);
  auto reset = answers({in(f::rst | f::ack, 0, 101, 0)});
  reset.capture_drops = 2;
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), reset) == StrayVerdict::inconclusive);
  reset.capture_drops = 0;
  CHECK(verdict(StrayCase::closed_fin, probe(f::fin, 100), reset) == StrayVerdict::conformant);
}

TEST_CASE("rejected replies during the wait make a verdict that rests on silence inconclusive") {
  StrayObservation seen;
  seen.rejected.add(RejectReason::wrong_seq, 2);
  // Silence expected: the forgeries may have hidden the stack's own answer.
  auto j = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 1000), seen);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK(j.reason.find("2 rejected (2 wrong seq)") == 0);
  // A reset expected and none came: not a deviation either.
  j = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), seen);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  // The real answer came too: it is judged, the rejected ones change nothing.
  seen.answers.push_back(in(f::rst | f::ack, 0, 1001, 0));
  CHECK(judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), seen).verdict == StrayVerdict::conformant);
  // Without rejects, silence where silence is due conforms.
  CHECK(judge_stray_case(StrayCase::listen_fin, probe(f::fin, 1000), StrayObservation{}).verdict ==
        StrayVerdict::conformant);
}

TEST_CASE("segments that may be copies of the peer's earlier ones make a verdict on silence inconclusive") {
  StrayObservation seen;
  seen.ambiguous_copies = 1;  // the same ACK as before our FIN left, and no telling
  auto j = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 1000), seen);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK(j.reason.find("1 segment(s) the same as one the peer sent before ours came") == 0);
  seen.answers.push_back(in(f::rst | f::ack, 0, 1001, 0));  // a real answer is judged as ever
  CHECK(judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), seen).verdict == StrayVerdict::conformant);
}

TEST_CASE("port control: silence on a port decides nothing unless some segment drew an answer there", "[stray]") {
  // nft 'tcp dport 82 drop' (or a host that is not there): every closed-port case is silent.
  const StrayObservation silent = answers({});
  const auto fin = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), silent);
  const auto rst = judge_stray_case(StrayCase::closed_rst, probe(f::rst, 1000), silent);
  REQUIRE(fin.verdict == StrayVerdict::deviation);  // alone, silence reads as a firewall that drops
  REQUIRE(rst.verdict == StrayVerdict::conformant);  // and as an RST left unanswered
  for (const auto& j : {fin, rst}) {
    const auto kept = apply_port_control(j, 82, true);
    CHECK(kept.verdict == j.verdict);
    CHECK(kept.reason == j.reason);
    const auto judged = apply_port_control(j, 82, false);
    CHECK(judged.verdict == StrayVerdict::inconclusive);
    CHECK(judged.reason.find("no case on port 82 drew any answer") != std::string::npos);
    CHECK(judged.reason.find("silence decides nothing") != std::string::npos);
    CHECK(!judged.rate_limit_possible);
    const auto no_host = apply_port_control(j, 82, false, "the host never answered ARP (its neighbour entry did not resolve)");
    CHECK(no_host.verdict == StrayVerdict::inconclusive);
    CHECK(no_host.reason.rfind("the host never answered ARP", 0) == 0);
  }
  // An inconclusive verdict keeps its own reason.
  const auto icmp_only = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), answers({icmp("port unreachable")}));
  CHECK(apply_port_control(icmp_only, 82, false).reason == icmp_only.reason);
}

TEST_CASE("a case drew an answer only with a TCP segment from the peer's stack", "[stray]") {
  CHECK_FALSE(stray_drew_answer(answers({})));
  CHECK_FALSE(stray_drew_answer(answers({icmp("port unreachable")})));  // a firewall's, not the stack's
  CHECK(stray_drew_answer(answers({in(f::rst | f::ack, 0, 1001, 0)})));
  StraySegment own = in(f::ack | f::psh, kSndNxt, kRcvNxt, 64, 20);
  own.peer_own = true;
  CHECK_FALSE(stray_drew_answer(answers({own})));
  StrayObservation followed = answers({});
  followed.follow_up_sent = true;
  followed.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  CHECK(stray_drew_answer(followed));
  followed.setup_problem = "not run";
  CHECK_FALSE(stray_drew_answer(followed));
}

TEST_CASE("TIME_WAIT RST and SYN: without a TIME_WAIT just before, there is nothing to test", "[stray]") {
  // net.ipv4.tcp_max_tw_buckets=0: the peer keeps no TIME_WAIT. Our FIN again draws an RST, the
  // RST is ignored by nobody, and the SYN opens a fresh connection.
  const StrayProbe rst = live(f::rst, kRcvNxt), syn = live(f::syn, kRcvNxt + 65536);
  StrayObservation o = in_time_wait({});
  o.pre_check_answers = {in(f::rst, kSndNxt, 0, 0)};
  o.follow_up_sent = true;
  o.follow_up = live(f::fin | f::ack, kRcvNxt - 1);
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  auto killed = judge_stray_case(StrayCase::tw_rst, rst, o);
  CHECK(killed.verdict == StrayVerdict::inconclusive);  // was: deviation, "the RST killed the peer's TIME_WAIT"
  CHECK(killed.reason.find("no TIME_WAIT to test") != std::string::npos);
  CHECK(killed.reason.find("kept no TIME_WAIT") != std::string::npos);
  StrayObservation s = in_time_wait({in(f::syn | f::ack, kSndNxt + 65537, kRcvNxt + 65537, 64240)});
  s.pre_check_answers = {in(f::rst, kSndNxt, 0, 0)};
  auto reused = judge_stray_case(StrayCase::tw_syn, syn, s);
  CHECK(reused.verdict == StrayVerdict::inconclusive);  // was: conformant, "reused with an ISN above"
  CHECK(reused.reason.find("no TIME_WAIT to test") != std::string::npos);
  s.pre_check_answers = {};  // our FIN drew nothing
  CHECK(judge_stray_case(StrayCase::tw_syn, syn, s).reason.find("drew no ACK") != std::string::npos);
  // ... but what it drew was set aside as maybe a copy of an earlier segment: not "no ACK".
  s.pre_check_ambiguous = 1;
  const auto unsure = judge_stray_case(StrayCase::tw_syn, syn, s);
  CHECK(unsure.verdict == StrayVerdict::inconclusive);
  CHECK(unsure.reason.find("drew only a segment the same as one the peer sent before it") != std::string::npos);
  CHECK(unsure.reason.find("may have kept no TIME_WAIT") == std::string::npos);
  s.pre_check_ambiguous = 0;
  s.pre_check_sent = false;
  CHECK(verdict(StrayCase::tw_syn, syn, s) == StrayVerdict::inconclusive);
}

TEST_CASE("TIME_WAIT RST: survived, where RSTs also left a live connection alive, decides nothing", "[stray]") {
  StrayObservation o = in_time_wait({});
  o.follow_up_sent = true;
  o.follow_up = live(f::fin | f::ack, kRcvNxt - 1);
  o.follow_up_answers = {in(f::ack, kSndNxt, kRcvNxt)};
  const auto kept = judge_stray_case(StrayCase::tw_rst, live(f::rst, kRcvNxt), o);
  REQUIRE(kept.verdict == StrayVerdict::conformant);
  // live-rst-exact in the same run: the byte after the RST was acked (nft drops inbound RSTs).
  StrayObservation x = answers({});
  x.follow_up_sent = true;
  x.follow_up = live(uint8_t(f::psh | f::ack), kRcvNxt);
  x.follow_up.payload_length = 1;
  x.follow_up_answers = {in(f::ack, kSndNxt, kRcvNxt + 1)};
  const auto survived = judge_stray_case(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), x);
  REQUIRE(survived.verdict == StrayVerdict::deviation);
  CHECK(survived.rst_survived);
  const auto judged = apply_rst_control(kept, &survived);
  CHECK(judged.verdict == StrayVerdict::inconclusive);
  CHECK(judged.reason.find("live-rst-exact") != std::string::npos);
  // A reset live connection, or none in the run: tw-rst stands.
  x.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  const auto reset = judge_stray_case(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), x);
  CHECK(!reset.rst_survived);
  CHECK(apply_rst_control(kept, &reset).verdict == StrayVerdict::conformant);
  // None in the run: it stands, and says what was not checked (the man page's caveat).
  const auto alone = apply_rst_control(kept, nullptr);
  CHECK(alone.verdict == StrayVerdict::conformant);
  CHECK(alone.reason.find("whether RSTs reach the peer's stack at all was not checked") != std::string::npos);
  // Asked for, but it could not run (the server closed first; found behind a firewall that
  // drops RSTs, where tw-rst stayed conformant): nothing proves an RST arrived.
  StrayJudgement not_run;
  not_run.verdict = StrayVerdict::inconclusive;
  not_run.reason = "the peer closed the connection before the case";
  const auto unproven = apply_rst_control(kept, &not_run);
  CHECK(unproven.verdict == StrayVerdict::inconclusive);
  CHECK(unproven.reason.find("live-rst-exact could not show that RSTs reach the peer's stack (the peer closed") !=
        std::string::npos);
}

TEST_CASE("a reset in the peer's name while the connection lives is a middlebox's, not a deviation", "[stray]") {
  // Found: `ct state invalid reject with tcp reset` on the server answered the ACK after an
  // out-of-window RST with a reset: "the out-of-window RST reset the connection", a deviation,
  // while ss showed the connection ESTABLISHED still.
  StrayObservation o = answers({});
  o.follow_up_sent = true;
  o.follow_up = live(f::ack, kRcvNxt + 200000);
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  const StrayProbe p = live(f::rst, kRcvNxt + 200000);
  REQUIRE(judge_stray_case(StrayCase::live_rst_out_of_window, p, o).verdict == StrayVerdict::deviation);
  CHECK(stray_drew_reset(o));
  o.life_check_sent = true;
  o.life_check = live(uint8_t(f::psh | f::ack), kRcvNxt);
  o.life_check.payload_length = 1;
  o.life_check_answers = {in(f::ack, kSndNxt, kRcvNxt + 1)};
  const auto lives = judge_stray_case(StrayCase::live_rst_out_of_window, p, o);
  CHECK(lives.verdict == StrayVerdict::inconclusive);
  CHECK(lives.reason.find("a middlebox reset in the peer's name") != std::string::npos);
  // A connection that has sent no data finds the byte's ack too old (Linux): a challenge ACK.
  o.life_check_answers = {in(f::ack, kSndNxt, kRcvNxt)};
  CHECK(judge_stray_case(StrayCase::live_rst_out_of_window, p, o).verdict == StrayVerdict::inconclusive);
  // The byte drew a reset too: the connection is gone, the deviation stands.
  o.life_check_answers = {in(f::rst, kSndNxt, 0, 0)};
  CHECK(judge_stray_case(StrayCase::live_rst_out_of_window, p, o).verdict == StrayVerdict::deviation);
}

TEST_CASE("an ACK case that drew nothing is judged on its second try, over a second later", "[stray]") {
  // net.ipv4.tcp_challenge_ack_limit=1: the first challenge ACK was over the host's budget.
  const StrayProbe p = live(f::ack, kRcvNxt, kSndNxt + 65536);
  StrayObservation o = answers({});
  const auto once = judge_stray_case(StrayCase::live_ack_unsent, p, o);
  REQUIRE(once.verdict == StrayVerdict::deviation);  // without a second try: as before
  o.retried = true;
  o.retry_answers = {in(f::ack, kSndNxt, kRcvNxt)};
  const auto second = judge_stray_case(StrayCase::live_ack_unsent, p, o);
  CHECK(second.verdict == StrayVerdict::conformant);
  CHECK(second.rate_limit_possible);
  CHECK(second.observed.rfind("silence, then (sent again) . seq=SND.NXT ack=RCV.NXT", 0) == 0);
  CHECK(second.reason.find("second try") != std::string::npos);
  o.retry_answers = {in(f::rst, kSndNxt, 0, 0)};
  CHECK(verdict(StrayCase::live_ack_unsent, p, o) == StrayVerdict::deviation);  // an answer decides
  o.retry_answers = {};
  const auto twice = judge_stray_case(StrayCase::live_ack_unsent, p, o);
  CHECK(twice.verdict == StrayVerdict::inconclusive);  // was: deviation "(rate limit?)"
  CHECK(twice.rate_limit_possible);
  CHECK(twice.reason.find("twice") != std::string::npos);
  // An ACK no stack rate-limits (of a FIN at RCV.NXT): silence twice is still a deviation.
  const StrayProbe fin = live(f::fin | f::ack, kRcvNxt);
  CHECK(verdict(StrayCase::live_fin_exact, fin, o) == StrayVerdict::deviation);
}

TEST_CASE("loss control: a deviation that rests on silence decides nothing on a lossy path", "[stray]") {
  const StrayObservation silent = answers({});
  const auto fin = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), silent);
  REQUIRE(fin.verdict == StrayVerdict::deviation);
  CHECK(apply_loss_control(fin, silent, false).verdict == StrayVerdict::deviation);
  const auto lossy = apply_loss_control(fin, silent, true);
  CHECK(lossy.verdict == StrayVerdict::inconclusive);
  CHECK(lossy.reason.find("the path lost packets in this run") != std::string::npos);
  // A deviation on an answer stands: the answer came, loss or not.
  const StrayObservation wrong = answers({in(f::ack, 0, 1001)});
  const auto answered = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), wrong);
  REQUIRE(answered.verdict == StrayVerdict::deviation);
  CHECK(apply_loss_control(answered, wrong, true).verdict == StrayVerdict::deviation);
  // Conformant silence is the port control's business, not this one's.
  const auto rst = judge_stray_case(StrayCase::closed_rst, probe(f::rst, 1000), silent);
  CHECK(apply_loss_control(rst, silent, true).verdict == StrayVerdict::conformant);
  const auto again = later_try(judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000),
                                                 answers({in(f::rst | f::ack, 0, 1001, 0)})));
  CHECK(again.verdict == StrayVerdict::conformant);
  CHECK(again.observed.rfind("silence, then (sent again) R.", 0) == 0);
  CHECK(again.reason.find("second try") != std::string::npos);
}

TEST_CASE("each case's answer kind is the one its expected answer names", "[stray]") {
  for (const auto& c : stray_catalogue()) {
    INFO(c.name << ": " << c.expected);
    const bool reset = c.expected.rfind("R", 0) == 0;
    const bool silent = c.expected.rfind("silence", 0) == 0 || c.expected.rfind("no answer", 0) == 0;
    CHECK((c.answer == StrayAnswer::reset) == reset);
    CHECK((c.answer == StrayAnswer::silence) == silent);
    // Only ACKs are rate-limited answers.
    if (c.rate_limited_answer) CHECK(c.answer == StrayAnswer::ack);
  }
}

TEST_CASE("an answer after several silent tries, and silence confirmed against a control", "[stray]") {
  const auto fin = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), answers({in(f::rst | f::ack, 0, 1001, 0)}));
  const auto third = later_try(fin, 3);
  CHECK(third.verdict == StrayVerdict::conformant);
  CHECK(third.observed.rfind("silence (3 tries), then (sent again) R.", 0) == 0);
  CHECK(third.reason.find("on try 4: the 3 before drew nothing (lost, or held back by a rate limit)") != std::string::npos);
  const auto silent = judge_stray_case(StrayCase::closed_fin, probe(f::fin, 1000), StrayObservation{});
  REQUIRE(silent.verdict == StrayVerdict::deviation);
  const auto confirmed = confirmed_silence(silent, 4, 2, "closed-ack");
  CHECK(confirmed.verdict == StrayVerdict::deviation);
  CHECK(confirmed.observed == "silence (4 tries)");
  CHECK(confirmed.reason.find("4 tries drew nothing, while closed-ack to the same port drew an answer after each of the last 2") !=
        std::string::npos);
  CHECK(confirmed_silence(fin, 4, 2, "closed-ack").reason == fin.reason);  // only deviations
}

TEST_CASE("a live case during which the peer sent its SYN/ACK again is inconclusive", "[stray]") {
  // A half-open peer resets the SYN (recorded from Linux with our handshake ACK dropped).
  StrayObservation seen = answers({in(f::rst | f::ack, 0, kRcvNxt + 32581, 0)});
  const StrayProbe p = live(f::syn, kRcvNxt + 32580);
  REQUIRE(judge_stray_case(StrayCase::live_syn, p, seen).verdict == StrayVerdict::deviation);
  seen.handshake_unconfirmed = true;
  const auto j = judge_stray_case(StrayCase::live_syn, p, seen);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK(j.reason.find("half-open connection (SYN-RECEIVED)") != std::string::npos);
}

TEST_CASE("an RST without effect on too few connections decides nothing", "[stray]") {
  StrayJudgement kept;
  kept.verdict = StrayVerdict::conformant;
  kept.reason = "TIME_WAIT survived the RST and acked the FIN again";
  const auto j = unconfirmed_on_connections(kept, 1, 3);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK(j.reason.find("only 1 of the 3 connections needed showed that") != std::string::npos);
  CHECK(same_on_connections(kept, 3).reason.find("the same on 3 connections") != std::string::npos);
  CHECK(judged_on_later_connection(kept, 2, "nothing came back").reason.find(
            "; on connection 3: on the 2 before, nothing came back (lost on the way)") != std::string::npos);
  StrayJudgement unsure;
  unsure.reason = "cannot tell";
  CHECK(unconfirmed_on_connections(unsure, 1, 3).reason == "cannot tell");
}

TEST_CASE("the half-open control: an RST to live-syn or live-ack-unsent from a peer not shown established", "[stray]") {
  // What nginx `listen ... deferred` answered (a listener with TCP_DEFER_ACCEPT, still SYN-RECEIVED).
  const StrayProbe syn_probe = live(f::syn, kRcvNxt + 32580);
  const StrayObservation reset = answers({in(f::rst | f::ack, 0, kRcvNxt + 32581, 0)});
  const auto first = judge_stray_case(StrayCase::live_syn, syn_probe, reset);
  REQUIRE(first.verdict == StrayVerdict::deviation);
  CHECK(needs_half_open_control(StrayCase::live_syn, first, reset));
  const StrayProbe ack_probe = live(f::ack, kRcvNxt, kSndNxt + 65536);
  const StrayObservation bare_reset = answers({in(f::rst, kSndNxt + 65536, 0, 0)});
  const auto unsent = judge_stray_case(StrayCase::live_ack_unsent, ack_probe, bare_reset);
  REQUIRE(unsent.verdict == StrayVerdict::deviation);
  CHECK(needs_half_open_control(StrayCase::live_ack_unsent, unsent, bare_reset));
  // Not for a challenge ACK that came first, for another case, or for a verdict that is no deviation.
  const StrayObservation ack_first = answers({in(f::ack, kSndNxt, kRcvNxt), in(f::rst | f::ack, 0, kRcvNxt + 32581, 0)});
  const auto both = judge_stray_case(StrayCase::live_syn, syn_probe, ack_first);
  CHECK(both.verdict == StrayVerdict::deviation);
  CHECK_FALSE(needs_half_open_control(StrayCase::live_syn, both, ack_first));
  CHECK_FALSE(needs_half_open_control(StrayCase::live_rst_in_window, first, reset));
  const auto acked = judge_stray_case(StrayCase::live_syn, syn_probe, answers({in(f::ack, kSndNxt, kRcvNxt)}));
  CHECK_FALSE(needs_half_open_control(StrayCase::live_syn, acked, answers({in(f::ack, kSndNxt, kRcvNxt)})));
  // The primed connection decides, saying what the first showed.
  const auto j = judged_on_primed_connection(acked, first, 2);
  CHECK(j.verdict == StrayVerdict::conformant);
  CHECK(j.reason.find("; on a connection where the peer first acked 2 bytes of ours: on one where it had shown "
                      "nothing, its R. was what a half-open peer (SYN-RECEIVED") != std::string::npos);
  // No primed connection: nothing decides.
  const auto unproven = unproven_connection(first, "the peer reset the connection before the case");
  CHECK(unproven.verdict == StrayVerdict::inconclusive);
  CHECK(unproven.reason.find("never showed that it took the connection") != std::string::npos);
  CHECK(unproven.reason.find("could not be set up to tell: the peer reset the connection before the case") !=
        std::string::npos);
}

TEST_CASE("the peer shows it took the connection by its own data, FIN or keepalive, or by acking ours", "[stray]") {
  StrayRun run;
  StraySegment ours = in(f::ack | f::psh, kRcvNxt, kSndNxt, 64, 2);
  ours.outbound = true;
  ours.peer_own = true;  // only the peer's own traffic counts, never ours
  run.segments = {in(f::syn | f::ack, kSndNxt - 1, kRcvNxt), ours, in(f::rst | f::ack, 0, kRcvNxt, 0)};
  CHECK_FALSE(stray_peer_took_connection(run));
  StraySegment banner = in(f::ack | f::psh, kSndNxt, kRcvNxt, 64, 28);
  banner.peer_own = true;
  run.segments.insert(run.segments.begin() + 1, banner);
  CHECK(stray_peer_took_connection(run));
  run.segments.erase(run.segments.begin() + 1);
  run.primed = true;
  CHECK(stray_peer_took_connection(run));
}

TEST_CASE("a reset the peer sends on its own is no answer to our segment", "[stray]") {
  // Found: a server that aborts its connections (SO_LINGER 0) 1 s after accept. Its RST came
  // 504 ms after our out-of-window RST: a deviation, "answered where the segment must be dropped
  // silently".
  const auto abort_rst = [](int64_t time_ns) {
    StraySegment s = in(uint8_t(f::rst | f::ack), kSndNxt, kRcvNxt);
    s.time_ns = time_ns;
    return s;
  };
  constexpr int64_t kSent = 1'000'000'000, kRtt = 100'000;  // 0.1 ms on the lab's veth
  const auto observed = [&](std::vector<StraySegment> list) {
    StrayObservation o = answers(std::move(list));
    o.probe_sent_ns = kSent;
    o.rtt_ns = kRtt;
    return o;
  };
  const auto oow = live(f::rst, kRcvNxt + 200000);
  StrayObservation o = observed({abort_rst(kSent + 504'000'000)});
  REQUIRE(verdict(StrayCase::live_rst_out_of_window, oow, o) == StrayVerdict::deviation);  // unmarked: as before
  CHECK(set_aside_own_resets(StrayCase::live_rst_out_of_window, o) == 1);
  CHECK(o.answers[0].peer_own);
  auto j = judge_stray_case(StrayCase::live_rst_out_of_window, oow, o);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("the peer reset the connection on its own"));
  CHECK_FALSE(stray_drew_reset(o));
  // Where an ACK was due and none came (the challenge ACK dropped on the way): the peer's own.
  const auto syn = live(f::syn, kRcvNxt + 100);
  o = observed({abort_rst(kSent + reset_late_after_ns(kRtt) + 1)});
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 1);
  j = judge_stray_case(StrayCase::live_syn, syn, o);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("no pure ACK came, and the peer reset the connection on its own"));
  // In time, it is the answer, whatever it answers: an RST to an RST, or where a challenge ACK
  // was due (RFC 793's stacks), or after the right ACK (a box that adds resets).
  o = observed({abort_rst(kSent + 2 * kRtt)});
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  CHECK(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::deviation);
  o = observed({abort_rst(kSent + 2 * kRtt)});
  CHECK(set_aside_own_resets(StrayCase::live_rst_out_of_window, o) == 0);
  StraySegment challenge = in(f::ack, kSndNxt, kRcvNxt);
  challenge.time_ns = kSent + kRtt;
  o = observed({challenge, abort_rst(kSent + 20'000'000)});
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  // ... unless the peer's clock says it came later: a reset 20 ms after the right challenge ACK
  // (found: a server aborting 320 ms after accept, 7 of 8 live cases "reset where an ACK was
  // due"); a stack answers one segment with one clock reading.
  challenge.tsval = 5000;
  StraySegment later = abort_rst(kSent + 20'000'000);
  later.tsval = 5000 + 20;
  o = observed({challenge, later});
  REQUIRE(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::deviation);
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 1);
  CHECK(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::conformant);
  o.rtt_ns = o.probe_sent_ns = 0;  // the clocks alone decide
  o.answers[1].peer_own = false;
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 1);
  // A segment the peer sent before ours arrived (in flight: within half the shortest round trip)
  // is no answer, and its older clock reading proves nothing of the reset after it.
  {
    // A pure ACK at early_ns (TSval 5000) and the peer's RST at reset_ns, `ticks` later by its
    // clock, on a path of rtt_ns (min_rtt_ns): how many resets are set aside as its own.
    auto own_resets = [&](int64_t early_ns, int64_t reset_ns, uint32_t ticks, int64_t rtt_ns, int64_t min_rtt_ns) {
      StraySegment early = in(f::ack, kSndNxt, kRcvNxt);
      early.time_ns = kSent + early_ns;
      early.tsval = 5000;
      StraySegment reset = abort_rst(kSent + reset_ns);
      reset.tsval = 5000 + ticks;
      StrayObservation o = observed({early, reset});
      o.rtt_ns = rtt_ns;
      o.min_rtt_ns = min_rtt_ns;
      return set_aside_own_resets(StrayCase::live_syn, o);
    };
    CHECK(own_resets(1'000'000, 40'000'000, 20, 40'000'000, 40'000'000) == 0);
    CHECK(own_resets(30'000'000, 40'000'000, 20, 40'000'000, 40'000'000) == 1);  // after half a round trip: it may answer ours
    // On a fast link an ACK's answer beats half the handshake's round trip (veth: min_rtt 72 us,
    // the duplicate ACK back in 31 us): the answer, and the abort 30 ms later the peer's own.
    CHECK(own_resets(31'000, 30'000'000, 30, 200'000, 72'000) == 1);
    // A 3 ms path: a segment in flight may be older by two ticks than the answer, and is none
    // (review: the rule held only from 4 ms).
    CHECK(own_resets(100'000, 3'000'000, 3, 3'000'000, 3'000'000) == 0);
  }
  later.tsval = 5000 + 1;  // the same millisecond, or the next: one reading
  o = observed({challenge, later});
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  later.tsval = 0xfffffff0u;  // across the wrap, behind the answer's
  o = observed({challenge, later});
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  // Without an RTT or a send time nothing is late.
  o = observed({abort_rst(kSent + 5'000'000'000)});
  o.rtt_ns = 0;
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  o = observed({abort_rst(kSent + 5'000'000'000)});
  o.probe_sent_ns = 0;
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
  // The life check found the connection alive: a middlebox's reset, judged as such.
  o = observed({abort_rst(kSent + 504'000'000)});
  o.life_check_sent = true;
  o.life_check = live(uint8_t(f::psh | f::ack), kRcvNxt);
  o.life_check.payload_length = 1;
  o.life_check_answers = {in(f::ack, kSndNxt, kRcvNxt + 1)};
  CHECK(set_aside_own_resets(StrayCase::live_rst_out_of_window, o) == 0);
  CHECK_THAT(judge_stray_case(StrayCase::live_rst_out_of_window, oow, o).reason,
             Catch::Contains("a middlebox reset in the peer's name"));
  // Only live connections: a TIME_WAIT has no application to reset it, a closed port no connection.
  o = observed({abort_rst(kSent + 504'000'000)});
  CHECK(set_aside_own_resets(StrayCase::tw_rst, o) == 0);
  CHECK(set_aside_own_resets(StrayCase::closed_rst, o) == 0);
  CHECK(reset_late_after_ns(kRtt) == kRtt + kResetLateMarginNs);
  CHECK(reset_late_after_ns(100'000'000) == 4 * 100'000'000);  // a long path: four round trips
  CHECK(reset_late_after_ns(kRtt, 900'000'000) == 900'000'000);  // never before the RTO
  // The second try's answers, by its own send time: the challenge ACK dropped on the way, the
  // abort after the second try (it read "reset where an ACK was due").
  o = observed({});
  o.retried = true;
  o.retry_sent_ns = kSent + 1'100'000'000;
  o.retry_answers = {abort_rst(o.retry_sent_ns + 400'000'000)};
  REQUIRE(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::deviation);
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 1);
  CHECK(o.peer_reset_on_its_own);
  CHECK(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::inconclusive);
  o.retry_answers = {abort_rst(o.retry_sent_ns + 2 * kRtt)};  // in time: the answer
  CHECK(set_aside_own_resets(StrayCase::live_syn, o) == 0);
}

TEST_CASE("a connection the peer reset on its own says nothing of what our RST did", "[stray]") {
  // The abort came between our out-of-window RST's wait and the ACK after it; the ACK then drew
  // a reset: "the out-of-window RST reset the connection", a deviation.
  const auto oow = live(f::rst, kRcvNxt + 200000);
  StrayObservation o = then_ack({}, {in(f::rst, kSndNxt, 0, 0)});
  REQUIRE(verdict(StrayCase::live_rst_out_of_window, oow, o) == StrayVerdict::deviation);
  o.peer_reset_on_its_own = true;
  auto j = judge_stray_case(StrayCase::live_rst_out_of_window, oow, o);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("the peer reset the connection on its own"));
  // live-rst-exact: the byte after our RST drew a reset, but the peer had reset it itself.
  StrayObservation exact = answers({});
  exact.follow_up_sent = true;
  exact.follow_up = live(uint8_t(f::psh | f::ack), kRcvNxt);
  exact.follow_up.payload_length = 1;
  exact.follow_up_answers = {in(f::rst, kSndNxt - 1000, 0, 0)};
  REQUIRE(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), exact) == StrayVerdict::conformant);
  exact.peer_reset_on_its_own = true;
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), exact) == StrayVerdict::inconclusive);
  // A reset of its own shows no connection taken (the half-open control is still run).
  StrayRun run;
  StraySegment own_rst = in(uint8_t(f::rst | f::ack), kSndNxt, kRcvNxt);
  own_rst.peer_own = true;
  run.segments = {own_rst};
  CHECK_FALSE(stray_peer_took_connection(run));
  run.segments = {own(uint8_t(f::psh | f::ack), kSndNxt, kRcvNxt, 41)};
  CHECK(stray_peer_took_connection(run));
}

TEST_CASE("a connection that survived an exact RST is a deviation only where RSTs reach the stack", "[stray]") {
  // Found by an explorer: behind `tcp flags rst drop`, live-rst-exact read "the connection
  // survived an RST at exactly RCV.NXT", a deviation; live-rst-in-window drew no challenge ACK.
  StrayObservation o = answers({});
  o.follow_up_sent = true;
  o.follow_up = live(f::psh | f::ack, kRcvNxt);
  o.follow_up_answers = {in(f::ack, kSndNxt, kRcvNxt + 1)};
  const auto survived = judge_stray_case(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o);
  REQUIRE(survived.verdict == StrayVerdict::deviation);
  CHECK(apply_reach_control(survived, true).verdict == StrayVerdict::deviation);
  const auto unproven = apply_reach_control(survived, false);
  CHECK(unproven.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(unproven.reason, Catch::Contains("drew no challenge ACK either"));
  // A conformant reset needs no control.
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  const auto reset = judge_stray_case(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o);
  CHECK(apply_reach_control(reset, false).verdict == StrayVerdict::conformant);
}

TEST_CASE("an RST's silence decides nothing where the run saw segments dropped before the stack", "[stray]") {
  // Found behind ct state invalid drop: closed-rst read conformant beside four deviations whose
  // silence the firewall made; an RST without a connection is as invalid to conntrack.
  const auto quiet = judge_stray_case(StrayCase::closed_rst, probe(f::rst, 10), answers({}));
  REQUIRE(quiet.verdict == StrayVerdict::conformant);
  CHECK(apply_drop_control(quiet, "").verdict == StrayVerdict::conformant);
  const auto j = apply_drop_control(quiet, "closed-fin drew nothing in 4 tries while closed-ack to the same port drew an answer");
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::StartsWith("an RST is never answered, but closed-fin drew nothing in 4 tries"));
  CHECK_THAT(j.reason, Catch::EndsWith("silence decides nothing"));
  // A reset that came is a deviation whatever the control says.
  const auto answered = judge_stray_case(StrayCase::closed_rst, probe(f::rst, 10), answers({in(f::rst, 10, 0, 0)}));
  CHECK(apply_drop_control(answered, "x").verdict == answered.verdict);
}

TEST_CASE("a live FIN's silence decides nothing when the other FIN of the run drew nothing either", "[stray]") {
  // Found by an explorer: a stateful firewall that lost the connection's state dropped its FINs
  // as invalid, and live-fin-exact read "no ACK came back" as the peer's deviation.
  const StrayProbe p = live(f::fin | f::ack, kRcvNxt);
  const auto silent = answers({});
  const auto j = judge_stray_case(StrayCase::live_fin_exact, p, silent);
  REQUIRE(j.verdict == StrayVerdict::deviation);
  const auto unreached = apply_fin_reach_control(j, silent, false);
  CHECK(unreached.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(unreached.reason, Catch::StartsWith("no ACK came back, but the other FIN of the run"));
  // The other FIN answered: FINs reach the stack, and this silence is the stack's.
  CHECK(apply_fin_reach_control(j, silent, true).verdict == StrayVerdict::deviation);
  // A deviation that rests on an answer (an old ack) is the stack's own, whatever the control.
  const auto wrong = answers({in(f::ack, kSndNxt, kRcvNxt)});
  const auto k = judge_stray_case(StrayCase::live_fin_exact, p, wrong);
  REQUIRE(k.verdict == StrayVerdict::deviation);
  CHECK(apply_fin_reach_control(k, wrong, false).verdict == StrayVerdict::deviation);
}

TEST_CASE("a listener's deviation answered at another TTL than its own reset is another box's", "[stray]") {
  // Found by an explorer behind port forwarding: conntrack left listen-fin, -null and -xmas
  // untranslated, and the router's own stack reset them (TTL 64) one hop nearer than the
  // server, whose reset to listen-ack came with TTL 63; they read as the server's deviations.
  StraySegment reset = in(f::rst | f::ack, 0, 11);
  reset.ttl = 64;
  const auto seen = answers({reset});
  const auto j = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 10), seen);
  REQUIRE(j.verdict == StrayVerdict::deviation);
  constexpr std::string_view kAck = "the listener's own reset to listen-ack";
  const auto other = apply_ttl_control(j, seen, 63, kAck);
  CHECK(other.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(other.reason, Catch::StartsWith("the answer's TTL (64) says it came from nearer than the listener's own "
                                             "reset to listen-ack (63): another box answered in its name"));
  // The same TTL, or none known either side: the deviation stands.
  CHECK(apply_ttl_control(j, seen, 64, kAck).verdict == StrayVerdict::deviation);
  CHECK(apply_ttl_control(j, seen, 0, kAck).verdict == StrayVerdict::deviation);
  StraySegment unknown = reset;
  unknown.ttl = 0;
  CHECK(apply_ttl_control(j, answers({unknown}), 63, kAck).verdict == StrayVerdict::deviation);
  // A conformant silence has no answer to judge.
  const auto quiet = judge_stray_case(StrayCase::listen_fin, probe(f::fin, 10), answers({}));
  CHECK(apply_ttl_control(quiet, answers({}), 63, kAck).verdict == quiet.verdict);
  // A conformant reset at another TTL than the listener's SYN/ACK is another box's too (found with
  // nf_conntrack_tcp_loose 0: the router reset listen-ack's ACK, read conformant).
  const auto acked = judge_stray_case(StrayCase::listen_ack, probe(f::ack, 10, 500), answers({in(f::rst, 500, 0, 0)}));
  REQUIRE(acked.verdict == StrayVerdict::conformant);
  StraySegment router_reset = in(f::rst, 500, 0, 0);
  router_reset.ttl = 64;
  const auto by_router = apply_ttl_control(acked, answers({router_reset}), 63, "the listener's SYN/ACK");
  CHECK(by_router.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(by_router.reason, Catch::Contains("came from nearer than the listener's SYN/ACK (63)"));
  // Compared by hops, not TTLs (review): a listener whose SYN/ACK leaves at its socket's TTL 255
  // (BGP's TTL security) and its resets at 64 is one hop away both times; a further answer too.
  CHECK(apply_ttl_control(acked, answers({in(f::rst, 500, 0, 0)}), 254, "the listener's SYN/ACK").verdict ==
        StrayVerdict::conformant);
  StraySegment at_63 = in(f::rst, 500, 0, 0);
  at_63.ttl = 63;
  CHECK(apply_ttl_control(acked, answers({at_63}), 254, "the listener's SYN/ACK").verdict == StrayVerdict::conformant);
  CHECK(stray_drew_answer_with_ttl(answers({at_63}), 254));
  CHECK(apply_ttl_control(j, seen, 62, kAck).verdict == StrayVerdict::inconclusive);  // 64 is nearer than 62
  CHECK(apply_ttl_control(j, answers({at_63}), 64, kAck).verdict == StrayVerdict::deviation);  // further: stands
  // An answer counts at the listening port only with the listener's TTL.
  CHECK(stray_drew_answer_with_ttl(seen, 0));
  CHECK(stray_drew_answer_with_ttl(seen, 64));
  CHECK_FALSE(stray_drew_answer_with_ttl(seen, 63));
  CHECK(stray_drew_answer_with_ttl(answers({unknown}), 63));
}

TEST_CASE("a SYN proxy's zero-window SYN/ACK on a live connection is no answer of the peer's", "[stray]") {
  // Found by an explorer behind nft synproxy: live-syn read 'SYN where an ACK was due' from the
  // proxy's own SYN/ACK (window 0, its own sequence numbers).
  const auto syn = live(f::syn, kRcvNxt + 100);
  StrayObservation o = answers({in(uint8_t(f::syn | f::ack), 1079866156u, kRcvNxt + 101, 0)});
  const auto j = judge_stray_case(StrayCase::live_syn, syn, o);
  CHECK(j.verdict == StrayVerdict::inconclusive);
  CHECK_THAT(j.reason, Catch::Contains("a SYN proxy in front of the peer"));
  // Marked the peer's own as well (stale: the proxy's TSval is a clock of its own, and read as
  // older than the peer's newest in about half the runs): still the proxy's (found: a deviation,
  // 'no ACK came back').
  o.answers.front().peer_own = o.answers.front().stale = true;
  CHECK(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::inconclusive);
  // A stack's own SYN/ACK has a window: judged as before.
  o = answers({in(uint8_t(f::syn | f::ack), 1079866156u, kRcvNxt + 101, 64240)});
  CHECK(verdict(StrayCase::live_syn, syn, o) == StrayVerdict::deviation);
}

TEST_CASE("a reset answering another segment of ours, and a segment the path held back, are no answers", "[stray]") {
  // Found by an explorer on a path that held frames back 230-600 ms. live-rst-exact: our
  // handshake ACK came after our RST and drew the server's RST, read as "the RST was answered";
  // no stack answers an RST with an RST, and the follow-up tells whether the reset took.
  StrayObservation o = answers({in(f::rst, kSndNxt, 0, 0)});
  o.follow_up_sent = true;
  o.follow_up = live(f::psh | f::ack, kRcvNxt);
  o.follow_up_answers = {in(f::rst, kSndNxt, 0, 0)};
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::conformant);
  o.answers.push_back(in(f::ack, kSndNxt, kRcvNxt));  // a challenge ACK too: answered, as before
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::deviation);
  o.answers = {in(uint8_t(f::rst | f::ack), 0, kRcvNxt, 0)};  // a reset that acks our RST: it answered it
  CHECK(verdict(StrayCase::live_rst_exact, live(f::rst, kRcvNxt), o) == StrayVerdict::deviation);
  // tw-fin-retransmit: the peer's ACK of our request, sent before our FIN (its TSval older than
  // the newest the peer had sent then), came first and "acked where the FIN was due".
  StraySegment held_back = in(f::ack, kSndNxt, kRcvNxt - 97);
  held_back.peer_own = held_back.stale = true;
  const auto fin = live(f::fin | f::ack, kRcvNxt - 1);
  StrayObservation tw = in_time_wait({held_back, in(f::ack, kSndNxt, kRcvNxt)});
  CHECK(verdict(StrayCase::tw_fin_retransmit, fin, tw) == StrayVerdict::conformant);
  tw = in_time_wait({held_back});  // nothing else came: silence, decidable
  CHECK(verdict(StrayCase::tw_fin_retransmit, fin, tw) == StrayVerdict::deviation);
  CHECK_THAT(judge_stray_case(StrayCase::tw_fin_retransmit, fin, tw).observed, Catch::Contains("held back on the way"));
}
