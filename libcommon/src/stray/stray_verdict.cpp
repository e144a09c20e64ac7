#include "tcpkit/stray/stray_verdict.hpp"

#include <algorithm>

#include "tcpkit/wire/hop_distance.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

namespace {

using V = StrayVerdict;

const StraySegment* first_tcp(const std::vector<StraySegment>& answers) {
  for (const auto& s : answers)
    if (!s.icmp) return &s;
  return nullptr;
}

bool only_icmp(const std::vector<StraySegment>& answers) { return !answers.empty() && !first_tcp(answers); }

// The segments that can be answers: everything but the peer's own data and FINs.
std::vector<StraySegment> real_answers(const std::vector<StraySegment>& all) {
  std::vector<StraySegment> out;
  for (const auto& s : all)
    if (!s.peer_own) out.push_back(s);
  return out;
}

}  // namespace

// Points into `all` itself: a pointer into a filtered copy would dangle once the copy is gone.
const StraySegment* first_real_tcp(const std::vector<StraySegment>& all) {
  for (const auto& s : all)
    if (!s.icmp && !s.peer_own) return &s;
  return nullptr;
}

namespace {

// The first of the peer's own segments that may carry an answer on it (a keepalive probe,
// one below SND.NXT, carries none; nor does a stale one, sent before ours).
const StraySegment* first_own(const std::vector<StraySegment>& all) {
  for (const auto& s : all)
    if (s.peer_own && !s.keepalive && !s.stale) return &s;
  return nullptr;
}

// "the peer's own data (41 bytes)", "the peer's own FIN", "the peer's own reset".
std::string own_text(const StraySegment& s) {
  if (s.flags & tcp_flag::rst) return "the peer's own reset";
  const std::string bytes = std::to_string(s.payload_length) + (s.payload_length == 1 ? " byte" : " bytes");
  if (s.flags & tcp_flag::fin)
    return s.payload_length ? "the peer's own data (" + bytes + ") and FIN" : std::string("the peer's own FIN");
  return "the peer's own data (" + bytes + ")";
}

constexpr const char* kOwnResetReason =
    "the peer reset the connection on its own during the observation window (later than an answer takes, or "
    "after its answer by its own clock): an application's abortive close does so (SO_LINGER 0, an idle "
    "timeout), or a middlebox in its name; no verdict is safe (run again, or against a server that does not "
    "reset its connections)";

// Some stray segments draw a pure ACK; the peer's own data or FIN carries ack = RCV.NXT too
// and a stack may send its answer on it, so without a pure ACK nothing is safe to conclude.
std::string own_overlap_reason(const StraySegment& own) {
  if (own.flags & tcp_flag::rst)
    return kOwnResetReason;
  return own_text(own) + " came during the observation window: its ack field says RCV.NXT whether or not the stack "
         "answered, so no verdict is safe (run again, or against a server that stays quiet)";
}
// Beyond this distance from RCV.NXT or SND.NXT a number is no offset a case aims at: shown plain.
constexpr int32_t kFarFromReference = 1'000'000;

// "RCV.NXT", "RCV.NXT+1", "SND.NXT-3"; the plain number when far from the reference.
std::string relative(uint32_t value, std::optional<uint32_t> reference, const char* name) {
  if (!reference) return std::to_string(value);
  const int32_t delta = int32_t(value - *reference);
  if (delta == 0) return name;
  if (delta > kFarFromReference || delta < -kFarFromReference) return std::to_string(value);
  return std::string(name) + (delta > 0 ? "+" : "-") + std::to_string(delta > 0 ? delta : -int64_t(delta));
}

// The answers, or "silence"; then the peer's own segments, marked as such.
std::string join_answers(const std::vector<StraySegment>& answers, const StrayProbe& probe) {
  std::string out, own;
  for (const auto& s : answers) {
    std::string& to = s.peer_own ? own : out;
    to += (to.empty() ? "" : "; ") + describe_answer(s, probe);
  }
  if (out.empty()) out = "silence";
  if (!own.empty()) out += " (peer's own: " + own + ")";
  return out;
}

StrayJudgement make(V verdict, std::string observed, std::string reason, bool rate_limit = false) {
  return StrayJudgement{verdict, std::move(observed), std::move(reason), rate_limit};
}

const char* kIcmpReason = "an ICMP error came back: a firewall or router answered, not the peer's TCP stack";

// Closed port: RFC 9293 3.10.7.1 (<SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>).
StrayJudgement expect_reset(const StrayProbe& p, const StrayObservation& seen) {
  const std::string observed = join_answers(seen.answers, p);
  if (seen.answers.empty())
    return make(V::deviation, observed, "no reset came back (a firewall that drops is the usual cause)");
  const StraySegment* t = first_tcp(seen.answers);
  if (!t) return make(V::inconclusive, observed, kIcmpReason);
  if (!(t->flags & tcp_flag::rst))
    return make(V::deviation, observed, "answered " + flags_compact(t->flags) + " where a reset was due");
  if (p.flags & tcp_flag::ack) {
    if (t->seq != p.ack)
      return make(V::deviation, observed, "the reset's seq is not the ACK number we sent (" + std::to_string(p.ack) + ")");
    return make(V::conformant, observed, "reset with seq = SEG.ACK");
  }
  const uint32_t want = p.seq + p.sequence_length();
  if (!(t->flags & tcp_flag::ack) || t->ack != want)
    return make(V::deviation, observed, "the reset does not ack SEG.SEQ+SEG.LEN (" + std::to_string(want) + ")");
  if (t->seq != 0) return make(V::deviation, observed, "the reset's seq is not zero although our segment had no ACK");
  return make(V::conformant, observed, "reset with seq 0 and ack = SEG.SEQ+SEG.LEN");
}

StrayJudgement expect_silence(const StrayProbe& p, const StrayObservation& seen, const char* why) {
  const std::string observed = join_answers(seen.answers, p);
  const auto real = real_answers(seen.answers);
  if (real.empty()) {
    if (const StraySegment* own = first_own(seen.answers)) return make(V::inconclusive, observed, own_overlap_reason(*own));
    return make(V::conformant, observed, why);
  }
  if (only_icmp(real)) return make(V::inconclusive, observed, kIcmpReason);
  return make(V::deviation, observed,
              std::string("answered where the segment must be dropped silently (by the peer's stack, or by a "
                          "firewall in its name: `ct state invalid reject with tcp reset` answers so)"));
}

// A challenge or duplicate ACK carrying ack = want.
// own_ack_proves: an ack of `want` on the peer's own segment is proof enough (it can only be
// there if the stray segment was accepted), as for the FIN at RCV.NXT.
StrayJudgement expect_ack(StrayCase id, const StrayProbe& p, const StrayObservation& seen, uint32_t want,
                          const std::string& want_text, bool own_ack_proves = false) {
  const std::string observed = join_answers(seen.answers, p);
  const auto real = real_answers(seen.answers);
  const StraySegment* t = first_tcp(real);
  if (!t) {
    if (only_icmp(real)) return make(V::inconclusive, observed, kIcmpReason);
    if (const StraySegment* own = first_own(seen.answers)) {
      if (own_ack_proves && (own->flags & tcp_flag::ack) && own->ack == want)
        return make(V::conformant, observed, "ACK of " + want_text + ", carried on " + own_text(*own));
      return make(V::inconclusive, observed, "no pure ACK came, and " + own_overlap_reason(*own));
    }
    const bool limited = stray_case_info(id).rate_limited_answer;
    return make(V::deviation, observed,
                limited ? "no ACK came back: the peer, a rate limit or a middlebox swallowed it"
                        : "no ACK came back",
                limited);
  }
  for (const auto& a : real)
    if (!a.icmp && (a.flags & tcp_flag::rst)) return make(V::deviation, observed, "reset where an ACK was due");
  if (t->flags & tcp_flag::syn) return make(V::deviation, observed, "SYN where an ACK was due");
  if (!(t->flags & tcp_flag::ack)) return make(V::deviation, observed, "an answer without ACK");
  if (t->ack != want)
    return make(V::deviation, observed, "acked " + std::to_string(t->ack) + " where " + want_text + " (" +
                                            std::to_string(want) + ") was due");
  return make(V::conformant, observed, "ACK of " + want_text);
}

StrayJudgement judge_rst_exact(const StrayProbe& p, const StrayObservation& seen) {
  std::string observed = join_answers(seen.answers, p);
  // A reset that does not ack our RST (<SEQ=0><ACK=SEG.SEQ><CTL=RST,ACK>, the closed-port answer
  // to it) answered another segment of ours that met the connection gone (found: our handshake
  // ACK, held back 230 ms on the way, came after the RST and drew R seq=SND.NXT); resets of that
  // kind alone leave the decision to the follow-up. One that acks our RST answered it.
  const uint32_t our_end = p.seq + p.sequence_length();
  const auto real = real_answers(seen.answers);
  const bool other_resets_only = std::all_of(real.begin(), real.end(), [&](const StraySegment& s) {
    return s.icmp || ((s.flags & tcp_flag::rst) && !((s.flags & tcp_flag::ack) && s.ack == our_end));
  });
  if (first_real_tcp(seen.answers) && !other_resets_only)
    return make(V::deviation, observed, "the RST at RCV.NXT was answered: it was not taken as a reset");
  if (const StraySegment* own = first_own(seen.answers)) return make(V::inconclusive, observed, own_overlap_reason(*own));
  if (!seen.follow_up_sent) return make(V::inconclusive, observed, "the follow-up segment could not be sent");
  observed += ", then " + join_answers(seen.follow_up_answers, p);
  const StraySegment* t = first_real_tcp(seen.follow_up_answers);
  if (!t) {
    // The peer's own segment acking our byte shows the connection alive; any other cannot tell.
    const StraySegment* own = first_own(seen.follow_up_answers);
    if (own && (own->flags & tcp_flag::ack) && own->ack == seen.follow_up.seq + seen.follow_up.sequence_length()) {
      auto j = make(V::deviation, observed, "the connection survived an RST at exactly RCV.NXT: " + own_text(*own) +
                                                " acked the byte after it");
      j.rst_survived = true;
      return j;
    }
    if (own) return make(V::inconclusive, observed, own_overlap_reason(*own));
    return make(V::inconclusive, observed, "the segment after the RST drew no answer: cannot tell if the connection is gone");
  }
  if ((t->flags & tcp_flag::rst) && seen.peer_reset_on_its_own) return make(V::inconclusive, observed, kOwnResetReason);
  if (t->flags & tcp_flag::rst) return make(V::conformant, observed, "the connection was reset: the next segment drew an RST");
  auto j = make(V::deviation, observed, "the connection survived an RST at exactly RCV.NXT");
  j.rst_survived = true;
  return j;
}

// live-rst-out-of-window: silence to the RST, then the pure ACK sent at the same seq must draw
// the duplicate ACK (ack = RCV.NXT). Without it the RST's silence shows nothing: a firewall that
// drops out-of-window segments (conntrack's ct state invalid) is silent too.
StrayJudgement judge_rst_out_of_window(const StrayProbe& p, const StrayObservation& seen) {
  StrayJudgement j = expect_silence(p, seen, "an out-of-window RST is dropped silently");
  if (j.verdict != V::conformant) return j;
  if (!seen.follow_up_sent) return make(V::inconclusive, j.observed, "the ACK after the RST could not be sent");
  const std::string observed = j.observed + ", then " + join_answers(seen.follow_up_answers, p);
  const StraySegment* t = first_real_tcp(seen.follow_up_answers);
  if (!t) {
    if (only_icmp(real_answers(seen.follow_up_answers))) return make(V::inconclusive, observed, kIcmpReason);
    if (const StraySegment* own = first_own(seen.follow_up_answers))
      return make(V::inconclusive, observed, own_overlap_reason(*own));
    return make(V::inconclusive, observed,
                "an ACK at the same out-of-window seq, sent after the RST, drew no duplicate ACK either: a firewall "
                "that drops out-of-window segments (conntrack's ct state invalid) looks the same as a stack that "
                "drops the RST; silence decides nothing");
  }
  if ((t->flags & tcp_flag::rst) && seen.peer_reset_on_its_own) return make(V::inconclusive, observed, kOwnResetReason);
  if (t->flags & tcp_flag::rst)
    return make(V::deviation, observed + " (connection reset)",
                "the out-of-window RST reset the connection: the ACK after it drew a reset");
  if ((t->flags & tcp_flag::ack) && !(t->flags & tcp_flag::syn) && t->ack == *p.peer_rcv_nxt)
    return make(V::conformant, observed,
                "an out-of-window RST is dropped silently; an ACK at the same seq drew the duplicate ACK, so such "
                "segments reach the stack, and the connection lives");
  return make(V::deviation, observed, "an unexpected answer to the ACK after the RST");
}

// tw-rst and tw-syn: our FIN sent again just before the stray segment must draw the ACK only a
// TIME_WAIT sends; the reason there is no TIME_WAIT to test when it did not.
std::optional<std::string> no_time_wait(const StrayObservation& seen) {
  if (!seen.pre_check_sent) return "no TIME_WAIT to test: whether the peer held one was not checked";
  const StraySegment* t = first_real_tcp(seen.pre_check_answers);
  const std::string before = "our FIN, sent again just before, ";
  // Its ACK may have been set aside as maybe a copy of one the peer sent before: then it is not
  // known that none came (it read "the peer may have kept no TIME_WAIT").
  if (!t && seen.pre_check_ambiguous)
    return "no TIME_WAIT known to test: " + before + "drew only " +
           (seen.pre_check_ambiguous == 1 ? std::string("a segment") : std::to_string(seen.pre_check_ambiguous) + " segments") +
           " the same as one the peer sent before it: a network copy or its ACK, nothing tells which";
  if (!t) return "no TIME_WAIT to test: " + before + "drew no ACK (the peer may have kept no TIME_WAIT)";
  if (t->flags & tcp_flag::rst)
    return "no TIME_WAIT to test: " + before + "drew a reset, the peer kept no TIME_WAIT (Linux: "
           "net.ipv4.tcp_max_tw_buckets)";
  if (!(t->flags & tcp_flag::ack) || t->ack != seen.pre_check.seq + seen.pre_check.sequence_length())
    return "no TIME_WAIT to test: " + before + "drew " + flags_compact(t->flags) + ", not the ACK of the FIN";
  return std::nullopt;
}

StrayJudgement judge_tw_rst(const StrayProbe& p, const StrayObservation& seen) {
  std::string observed = join_answers(seen.answers, p);
  if (auto why = no_time_wait(seen)) return make(V::inconclusive, observed, *why);
  const auto real = real_answers(seen.answers);
  if (first_tcp(real) && (first_tcp(real)->flags & tcp_flag::rst))
    return make(V::deviation, observed, "the RST was answered with an RST");
  if (!seen.follow_up_sent) return make(V::inconclusive, observed, "the follow-up FIN could not be sent");
  observed += ", then " + join_answers(seen.follow_up_answers, p);
  const StraySegment* t = first_real_tcp(seen.follow_up_answers);
  if (!t) return make(V::inconclusive, observed, "the FIN after the RST drew no answer: cannot tell if TIME_WAIT survived");
  if (t->flags & tcp_flag::rst)
    return make(V::deviation, observed + " (TIME_WAIT assassinated)",
                "the RST killed the peer's TIME_WAIT (the RFC 1337 hazard; Linux: net.ipv4.tcp_rfc1337=0)");
  if ((t->flags & tcp_flag::ack) && t->ack == seen.follow_up.seq + 1)
    return make(V::conformant, observed + " (TIME_WAIT kept)", "TIME_WAIT survived the RST and acked the FIN again");
  return make(V::deviation, observed, "an unexpected answer to the FIN after the RST");
}

StrayJudgement judge_tw_syn(const StrayProbe& p, const StrayObservation& seen) {
  const std::string observed = join_answers(seen.answers, p);
  if (auto why = no_time_wait(seen)) return make(V::inconclusive, observed, *why);
  const auto real = real_answers(seen.answers);
  const StraySegment* t = first_tcp(real);
  if (!t) {
    if (only_icmp(real)) return make(V::inconclusive, observed, kIcmpReason);
    if (const StraySegment* own = first_own(seen.answers)) return make(V::inconclusive, observed, own_overlap_reason(*own));
    return make(V::deviation, observed, "no answer: neither a SYN/ACK (reuse) nor a challenge ACK", true);
  }
  if (t->flags & tcp_flag::rst) return make(V::deviation, observed, "reset: RFC 5961 4 asks for a challenge ACK");
  if ((t->flags & tcp_flag::syn) && (t->flags & tcp_flag::ack)) {
    if (t->ack != p.seq + 1) return make(V::deviation, observed, "a SYN/ACK that does not ack our SYN");
    if (p.peer_snd_nxt && seq_gt(t->seq, *p.peer_snd_nxt))
      return make(V::conformant, observed + " (reused)",
                  "the TIME_WAIT pair was reused with an ISN above the old connection's SND.NXT");
    return make(V::deviation, observed + " (reused)", "the TIME_WAIT pair was reused with an ISN not above the old SND.NXT");
  }
  if (t->flags & tcp_flag::ack) return make(V::conformant, observed + " (not reused)", "TIME_WAIT kept: the SYN drew an ACK");
  return make(V::deviation, observed, "an unexpected answer to the SYN");
}

}  // namespace

std::string_view to_string(StrayVerdict verdict) {
  switch (verdict) {
    case V::conformant: return "conformant";
    case V::deviation: return "deviation";
    case V::inconclusive: return "inconclusive";
  }
  return "?";
}

SegmentKind classify_segment(uint8_t flags, uint32_t payload_length) {
  if (flags & tcp_flag::rst) return SegmentKind::rst;
  if (flags & tcp_flag::syn) return SegmentKind::syn;
  if (flags & tcp_flag::fin) return SegmentKind::fin;
  if (payload_length > 0) return SegmentKind::data;
  if (flags & tcp_flag::ack) return SegmentKind::pure_ack;
  return SegmentKind::other;
}

std::string_view to_string(SegmentKind kind) {
  switch (kind) {
    case SegmentKind::pure_ack: return "ack";
    case SegmentKind::data: return "data";
    case SegmentKind::fin: return "fin";
    case SegmentKind::rst: return "rst";
    case SegmentKind::syn: return "syn";
    case SegmentKind::other: return "other";
  }
  return "?";
}

bool is_peer_own_traffic(SegmentKind kind) { return kind == SegmentKind::data || kind == SegmentKind::fin; }

bool is_keepalive_probe(uint8_t flags, uint32_t seq, uint32_t payload_length, uint32_t peer_snd_nxt) {
  return classify_segment(flags, payload_length) == SegmentKind::pure_ack && seq == peer_snd_nxt - 1;
}

uint32_t StrayProbe::sequence_length() const {
  return payload_length + ((flags & tcp_flag::syn) ? 1 : 0) + ((flags & tcp_flag::fin) ? 1 : 0);
}

std::string describe_segment(const StraySegment& s) {
  if (s.icmp) return "ICMP " + s.icmp_text;
  std::string out = flags_compact(s.flags) + " seq=" + std::to_string(s.seq);
  if (s.flags & tcp_flag::ack) out += " ack=" + std::to_string(s.ack);
  out += " win=" + std::to_string(s.window);
  if (s.payload_length) out += " len=" + std::to_string(s.payload_length);
  return out;
}

std::string describe_answer(const StraySegment& s, const StrayProbe& p) {
  if (s.icmp || !p.peer_rcv_nxt) return describe_segment(s);
  std::string out = flags_compact(s.flags) + " seq=" + relative(s.seq, p.peer_snd_nxt, "SND.NXT");
  if (s.flags & tcp_flag::ack) out += " ack=" + relative(s.ack, p.peer_rcv_nxt, "RCV.NXT");
  out += " win=" + std::to_string(s.window);
  if (s.payload_length) out += " len=" + std::to_string(s.payload_length);
  if (s.keepalive) out += s.window_probe ? " (window probe)" : " (keepalive)";
  if (s.stale) out += " (sent before ours: held back on the way)";
  return out;
}

namespace {
// "R.", ". .", "ICMP", "silence"; "(+own)" when the peer's own data or FIN came too. Long
// lists end in "+N" so that the column stays narrow.
std::string short_answers(const std::vector<StraySegment>& answers) {
  constexpr size_t kMaxChars = 10;
  std::string out;
  size_t shown = 0, total = 0;
  bool own = false;
  for (const auto& s : answers) {
    if (s.peer_own) {
      own = true;
      continue;
    }
    ++total;
    const std::string flags = s.icmp ? "ICMP" : flags_compact(s.flags);
    if (out.size() + 1 + flags.size() > kMaxChars && shown) continue;
    out += (out.empty() ? "" : " ") + flags;
    ++shown;
  }
  if (out.empty()) out = "silence";
  if (total > shown) out += " +" + std::to_string(total - shown);
  if (own) out += " (+own)";
  return out;
}

StrayJudgement judge_answers(StrayCase id, const StrayProbe& p, const StrayObservation& seen);
}  // namespace

namespace {
// The life check's byte drew an ACK only a connection sends: the connection lives.
bool life_check_shows_alive(const StrayObservation& seen) {
  if (!seen.life_check_sent) return false;
  const StraySegment* t = first_real_tcp(seen.life_check_answers);
  const uint32_t at = seen.life_check.seq, past = at + seen.life_check.sequence_length();
  return t && !(t->flags & (tcp_flag::rst | tcp_flag::syn)) && (t->flags & tcp_flag::ack) && (t->ack == at || t->ack == past);
}

// A deviation that rests on a reset, while a byte sent after it was acked: the connection lives,
// so no stack of the peer's reset it. A firewall that rejects what its conntrack calls invalid
// (`ct state invalid reject with tcp reset`) answers so in the peer's name, and the peer's own
// answer never came to be seen.
StrayJudgement apply_life_check(StrayJudgement j, const StrayObservation& seen) {
  // Its ack is old: a live connection acks the byte, or (Linux, when it has sent no data to have
  // acked) answers with a challenge ACK at RCV.NXT; either is an ACK only a connection sends.
  if (j.verdict != V::deviation || !life_check_shows_alive(seen)) return j;
  j.verdict = V::inconclusive;
  j.rate_limit_possible = false;
  j.observed += ", then a byte at RCV.NXT: " + join_answers(seen.life_check_answers, seen.life_check);
  j.reason = "a reset came, yet the connection lives (a byte at RCV.NXT sent after it drew an ACK, which only a "
             "connection sends): a middlebox reset in the peer's name, as a firewall that rejects what its "
             "conntrack finds invalid does (ct state invalid reject with tcp reset); the peer's own answer is not seen";
  return j;
}
}  // namespace

StrayJudgement judge_stray_case(StrayCase id, const StrayProbe& p, const StrayObservation& seen) {
  StrayJudgement j = apply_life_check(judge_answers(id, p, seen), seen);
  // The follow-up's answers too, as the SENT column shows "R then P.": live-rst-out-of-window
  // read "silence" beside a reason that named the reset its follow-up drew.
  j.observed_flags = seen.setup_problem ? "not run" : short_answers(seen.answers);
  if (!seen.setup_problem && seen.follow_up_sent) j.observed_flags += " then " + short_answers(seen.follow_up_answers);
  return j;
}

int64_t reset_late_after_ns(int64_t rtt_ns, int64_t rto_ns) {
  return std::max({kResetLateRtts * rtt_ns, rtt_ns + kResetLateMarginNs, rto_ns});
}

namespace {
// The resets in `answers` to a segment sent at sent_ns that came late, or after a non-reset
// answer by the peer's own clock.
size_t mark_own_resets(std::vector<StraySegment>& answers, int64_t sent_ns, const StrayObservation& seen) {
  const bool timed = sent_ns > 0 && seen.rtt_ns > 0;
  const int64_t late_from = timed ? sent_ns + reset_late_after_ns(seen.rtt_ns, seen.rto_ns) : 0;
  size_t marked = 0;
  std::optional<uint32_t> answer_tsval;  // the first answer's (not a reset) clock reading
  bool answered = false;
  for (auto& s : answers) {
    if (s.icmp || s.peer_own) continue;
    if (!(s.flags & tcp_flag::rst)) {
      // Within half the shortest round trip of our segment it cannot answer it: the peer sent
      // it before ours arrived (a window update in flight), and its older clock reading proves
      // nothing. (Not the smoothed RTT: on a fast link it is well above a real answer's time.)
      // Only where half a round trip can put kOwnResetTicks between two readings of the peer's
      // clock (1 ms ticks on Linux: a little over one tick of time may show as two): on a
      // faster path a reading older by less cannot make a reset look later, and the handshake's
      // round trip is no floor for an ACK's (found on veth: min_rtt 72 us, the duplicate ACK
      // back in 31 us, set aside, and the server's own abort judged the answer).
      constexpr int64_t kTickNs = 1'000'000;
      const bool in_flight_possible = seen.min_rtt_ns / 2 >= int64_t(kOwnResetTicks - 1) * kTickNs;
      if (sent_ns > 0 && in_flight_possible && s.time_ns < sent_ns + seen.min_rtt_ns / 2) continue;
      if (!answered) answer_tsval = s.tsval;
      answered = true;
      continue;
    }
    const bool later_clock = answer_tsval && s.tsval && int32_t(*s.tsval - *answer_tsval) >= int32_t(kOwnResetTicks);
    if ((timed && s.time_ns > late_from) || later_clock) {
      s.peer_own = true;
      ++marked;
    }
  }
  return marked;
}
}  // namespace

size_t set_aside_own_resets(StrayCase id, StrayObservation& seen) {
  if (stray_case_info(id).group != StrayGroup::live || seen.setup_problem || life_check_shows_alive(seen)) return 0;
  const size_t marked = mark_own_resets(seen.answers, seen.probe_sent_ns, seen) +
                        (seen.retried ? mark_own_resets(seen.retry_answers, seen.retry_sent_ns, seen) : 0);
  if (marked) seen.peer_reset_on_its_own = true;
  return marked;
}

bool stray_drew_reset(const StrayObservation& seen) {
  if (seen.setup_problem) return false;
  const auto reset_in = [](const std::vector<StraySegment>& v) {
    return std::any_of(v.begin(), v.end(),
                       [](const StraySegment& s) { return !s.peer_own && !s.icmp && (s.flags & tcp_flag::rst); });
  };
  return reset_in(seen.answers) || (seen.retried && reset_in(seen.retry_answers)) ||
         (seen.follow_up_sent && reset_in(seen.follow_up_answers));
}

bool stray_drew_answer(const StrayObservation& seen) {
  if (seen.setup_problem) return false;
  return first_real_tcp(seen.answers) || (seen.follow_up_sent && first_real_tcp(seen.follow_up_answers));
}

// Whether an answer's TTL says it came from nearer than the listener's (both known). By hops, not
// TTLs: a listener may send its SYN/ACK at its socket's TTL (BGP's TTL security: 255) and its
// resets at the system's 64, one hop away both.
namespace {
bool from_nearer(uint8_t answer_ttl, uint8_t listener_ttl) {
  return answer_ttl && listener_ttl && answer_hop(answer_ttl) < answer_hop(listener_ttl);
}
}  // namespace

bool stray_drew_answer_with_ttl(const StrayObservation& seen, uint8_t ttl) {
  if (!stray_drew_answer(seen)) return false;
  if (!ttl) return true;
  const StraySegment* answer = first_real_tcp(seen.answers);
  if (!answer) answer = first_real_tcp(seen.follow_up_answers);
  return !from_nearer(answer->ttl, ttl);
}

bool stray_drew_answer_on_either_try(const StrayObservation& seen) {
  return stray_drew_answer(seen) || (seen.retried && first_real_tcp(seen.retry_answers));
}

StrayJudgement apply_rst_control(StrayJudgement j, const StrayJudgement* live_rst_exact) {
  if (j.verdict != V::conformant) return j;
  if (!live_rst_exact) {
    j.reason += "; whether RSTs reach the peer's stack at all was not checked in this run (live-rst-exact checks it): "
                "a path that drops them looks the same";
    return j;
  }
  if (live_rst_exact->rst_survived) {
    j.verdict = V::inconclusive;
    j.reason = "in this run an RST at exactly RCV.NXT left a live connection alive (live-rst-exact): RSTs may not "
               "reach the peer's stack, so a TIME_WAIT that survives one decides nothing";
  } else if (live_rst_exact->verdict != V::conformant) {
    // Asked for as the control, it could not show an RST taking effect (a server that closes
    // first leaves no live connection to reset): the survival is unproven still.
    j.verdict = V::inconclusive;
    j.reason = "the TIME_WAIT survived the RST, but in this run live-rst-exact could not show that RSTs reach the "
               "peer's stack (" + live_rst_exact->reason + "): a path that drops them looks the same";
  }
  return j;
}

StrayJudgement apply_loss_control(StrayJudgement j, const StrayObservation& seen, bool loss_seen) {
  if (!loss_seen || j.verdict != V::deviation || stray_drew_answer(seen)) return j;
  j.verdict = V::inconclusive;
  j.reason = "the path lost packets in this run (a handshake that did not complete, a retransmission, or an answer "
             "that came only to a second try): silence decides nothing";
  return j;
}

StrayJudgement later_try(StrayJudgement j, int silent_tries) {
  const std::string n = std::to_string(silent_tries);
  j.observed = (silent_tries == 1 ? std::string("silence") : "silence (" + n + " tries)") + ", then (sent again) " + j.observed;
  j.reason += silent_tries == 1 ? "; on a second try: the first drew nothing (lost, or held back by a rate limit)"
                                : "; on try " + std::to_string(silent_tries + 1) + ": the " + n +
                                      " before drew nothing (lost, or held back by a rate limit)";
  return j;
}

bool needs_half_open_control(StrayCase id, const StrayJudgement& j, const StrayObservation& seen) {
  if ((id != StrayCase::live_syn && id != StrayCase::live_ack_unsent) || j.verdict != V::deviation) return false;
  const StraySegment* answer = first_real_tcp(seen.answers);
  return answer && (answer->flags & tcp_flag::rst);
}

namespace {
constexpr std::string_view kHalfOpen =
    "a half-open peer (SYN-RECEIVED, where a listener that defers accept until data comes keeps a connection)";
}  // namespace

StrayJudgement judged_on_primed_connection(StrayJudgement j, const StrayJudgement& first, size_t primed_bytes) {
  j.reason += "; on a connection where the peer first acked " + std::to_string(primed_bytes) +
              " bytes of ours: on one where it had shown nothing, its " + first.observed_flags + " was what " +
              std::string(kHalfOpen) + " answers";
  return j;
}

StrayJudgement unproven_connection(StrayJudgement j, std::string_view problem) {
  j.verdict = V::inconclusive;
  j.reason += "; but the peer never showed that it took the connection, and " + std::string(kHalfOpen) +
              " answers so too; a connection primed with data could not be set up to tell: " + std::string(problem);
  return j;
}

StrayJudgement judged_on_later_connection(StrayJudgement j, int earlier, std::string_view what) {
  j.reason += "; on connection " + std::to_string(earlier + 1) + ": on the " +
              (earlier == 1 ? std::string("one") : std::to_string(earlier)) + " before, " + std::string(what) +
              " (lost on the way)";
  return j;
}

StrayJudgement same_on_connections(StrayJudgement j, int connections) {
  j.reason += "; the same on " + std::to_string(connections) + " connections";
  return j;
}

StrayJudgement unconfirmed_on_connections(StrayJudgement j, int connections, int needed) {
  if (j.verdict == V::inconclusive) return j;
  j.verdict = V::inconclusive;
  j.reason += "; but only " + std::to_string(connections) + " of the " + std::to_string(needed) +
              " connections needed showed that (the others could not be set up, or showed nothing): a lost "
              "segment looks the same, so this decides nothing";
  return j;
}

StrayJudgement confirmed_silence(StrayJudgement j, int tries, int controlled, std::string_view control) {
  if (j.verdict != V::deviation) return j;
  j.observed += " (" + std::to_string(tries) + " tries)";
  j.reason += "; " + std::to_string(tries) + " tries drew nothing, while " + std::string(control) +
              " to the same port drew an answer after each of the last " + std::to_string(controlled);
  return j;
}

namespace {
// A verdict the evidence does not decide: inconclusive, for `reason` (no rate limit in question).
StrayJudgement inconclusive_because(StrayJudgement j, std::string reason) {
  j.verdict = V::inconclusive;
  j.rate_limit_possible = false;
  j.reason = std::move(reason);
  return j;
}
}  // namespace

StrayJudgement apply_port_control(StrayJudgement j, uint16_t port, bool control_answered, const std::string& host_note) {
  if (control_answered || j.verdict == V::inconclusive) return j;
  return inconclusive_because(std::move(j), host_note.empty() ? "no case on port " + std::to_string(port) +
                                                                  " drew any answer, nor did a control ACK: the host, "
                                                                  "a firewall or a blackhole setting drops the "
                                                                  "segments; silence decides nothing"
                                                            : host_note + "; silence decides nothing");
}

StrayJudgement apply_reach_control(StrayJudgement j, bool reached) {
  if (!j.rst_survived || j.verdict != V::deviation || reached) return j;
  return inconclusive_because(std::move(j),
                              "the connection survived an RST at exactly RCV.NXT, but an in-window RST "
                              "(live-rst-in-window) drew no challenge ACK either: the RSTs may never reach the peer's "
                              "stack (a firewall that drops them), so its survival decides nothing");
}

StrayJudgement apply_fin_reach_control(StrayJudgement j, const StrayObservation& seen, bool other_answered) {
  if (j.verdict != V::deviation || other_answered || stray_drew_answer_on_either_try(seen)) return j;
  return inconclusive_because(std::move(j),
                              "no ACK came back, but the other FIN of the run (exact or out of the window) drew none "
                              "either: the FINs may never reach the peer's stack (a stateful firewall that lost the "
                              "connection's state drops them as invalid), so this silence decides nothing");
}

StrayJudgement apply_drop_control(StrayJudgement j, const std::string& drops) {
  if (j.verdict != V::conformant || drops.empty()) return j;
  j.verdict = V::inconclusive;
  j.reason += ", but " + drops + ": something drops segments that belong to no connection before the stack (as "
              "ct state invalid drop does), and an RST to a port without a connection is one; silence decides nothing";
  return j;
}

StrayJudgement apply_ttl_control(StrayJudgement j, const StrayObservation& seen, uint8_t listener_ttl,
                                 std::string_view whose) {
  const StraySegment* answer = first_real_tcp(seen.answers);
  if (j.verdict == V::inconclusive || !answer || !from_nearer(answer->ttl, listener_ttl)) return j;
  return inconclusive_because(std::move(j), "the answer's TTL (" + std::to_string(answer->ttl) +
                                                ") says it came from nearer than " + std::string(whose) + " (" +
                                                std::to_string(listener_ttl) +
                                                "): another box answered in its name (a router's own stack, as behind "
                                                "port forwarding, where conntrack leaves such segments untranslated, "
                                                "or a firewall); the listener's own answer is not seen");
}

StrayJudgement apply_twin_control(StrayJudgement j, StrayCase twin, uint16_t closed_port, bool twin_answered,
                                  const std::string& problem) {
  if (j.verdict != V::conformant) return j;
  const std::string port = "closed port " + std::to_string(closed_port);
  const std::string name(stray_case_info(twin).name);
  if (twin_answered) {
    j.reason += "; the same segment drew a reset from " + port + " (" + name + "), so it reaches the stack";
    return j;
  }
  j.verdict = V::inconclusive;
  j.reason = (problem.empty() ? "the same segment drew no reset from " + port + " either (" + name + ")"
                              : "the same segment could not be tried at a closed port (" + problem + ")") +
             ": a firewall that drops it before the stack (conntrack's ct state invalid, a rule against scans) looks "
             "the same as a listener that drops it; silence decides nothing";
  return j;
}

StrayJudgement apply_same_port_control(StrayJudgement j, uint16_t port, bool answered) {
  if (j.verdict != V::conformant) return j;
  const std::string control = "F. to listening port " + std::to_string(port);
  if (answered) {
    j.reason += "; " + control + " drew a reset, so segments a firewall finds invalid reach the listener";
    return j;
  }
  j.verdict = V::inconclusive;
  j.reason = control + " drew no reset, where the listener resets it: a firewall in front of this port drops "
             "segments without a connection (conntrack's ct state invalid), and this one with them; silence "
             "decides nothing";
  return j;
}

namespace {
StrayJudgement judge_case(StrayCase id, const StrayProbe& p, const StrayObservation& seen);

// Whether no segment of the peer's that can be an answer came, to the case, its second try or
// its follow-up.
bool rests_on_silence(const StrayObservation& seen) {
  return !first_real_tcp(seen.answers) && !(seen.retried && first_real_tcp(seen.retry_answers)) &&
         !(seen.follow_up_sent && first_real_tcp(seen.follow_up_answers));
}

// A case sent twice, over a second apart, because the first try drew nothing: judged on the
// second try's answer; silence twice where stacks rate-limit the answer decides nothing.
StrayJudgement judge_retried(StrayCase id, const StrayProbe& p, const StrayObservation& seen) {
  if (!seen.retry_answers.empty()) {
    StrayObservation second = seen;
    second.answers = seen.retry_answers;
    second.retried = false;
    StrayJudgement j = judge_case(id, p, second);
    j.observed = "silence, then (sent again) " + j.observed;
    j.reason += "; on the second try, over a second after the first, which drew nothing (a rate limit, such as "
                "Linux's net.ipv4.tcp_challenge_ack_limit, or a lost segment)";
    j.rate_limit_possible = stray_case_info(id).rate_limited_answer;
    return j;
  }
  StrayJudgement j = judge_case(id, p, seen);
  j.observed += " (twice, over a second apart)";
  if (j.verdict == V::deviation && stray_case_info(id).rate_limited_answer) {
    j.verdict = V::inconclusive;
    j.rate_limit_possible = true;
    j.reason = "no ACK came back, twice, over a second apart: a host-wide rate limit (Linux: "
               "net.ipv4.tcp_challenge_ack_limit) or a middlebox may swallow it; silence decides nothing";
  }
  return j;
}

namespace {
// Whatever else it was taken for (stale, by a TSval of the proxy's own clock): no stack's own
// traffic has a zero-window SYN/ACK.
bool syn_proxy_answer(const std::vector<StraySegment>& answers) {
  return std::any_of(answers.begin(), answers.end(), [](const StraySegment& s) {
    return !s.icmp && (s.flags & (tcp_flag::syn | tcp_flag::ack | tcp_flag::rst)) == (tcp_flag::syn | tcp_flag::ack) &&
           s.window == 0;
  });
}
}  // namespace

StrayJudgement judge_answers(StrayCase id, const StrayProbe& p, const StrayObservation& seen) {
  if (seen.setup_problem) return make(V::inconclusive, "not run", *seen.setup_problem);
  if (seen.capture_drops > 0)
    return make(V::inconclusive, join_answers(seen.answers, p),
                "capture dropped " + std::to_string(seen.capture_drops) + " frames: the answer may be among them");
  const bool live = stray_case_info(id).group == StrayGroup::live || stray_case_info(id).group == StrayGroup::time_wait;
  if (live && (!p.peer_rcv_nxt || !p.peer_snd_nxt))
    return make(V::inconclusive, join_answers(seen.answers, p), "the connection's sequence numbers were not known");
  StrayJudgement j = seen.retried ? judge_retried(id, p, seen) : judge_case(id, p, seen);
  if (seen.handshake_unconfirmed)
    return make(V::inconclusive, j.observed,
                "the peer sent its SYN/ACK again during the case: it had not heard our handshake ACK, so the stray "
                "segment met a half-open connection (SYN-RECEIVED), not the state the case tests");
  // A SYN/ACK with a zero window, which no stack's own has: a SYN proxy (nft synproxy, a DDoS
  // scrubber) answered our SYN in the peer's name, its sequence numbers its own (found: live-syn
  // 'SYN where an ACK was due' and tw-syn 'reused with an ISN not above the old SND.NXT' behind
  // nft synproxy). What the peer's stack made of the segment is not seen.
  if (live && (syn_proxy_answer(seen.answers) || (seen.retried && syn_proxy_answer(seen.retry_answers))))
    return make(V::inconclusive, j.observed,
                "a SYN/ACK with a zero window answered, which no stack's own has: a SYN proxy in front of the peer "
                "(nft synproxy, a DDoS scrubber) answered in its name, and the peer's own answer is not seen");
  if (j.verdict != V::inconclusive && seen.rejected.total() > 0 && rests_on_silence(seen))
    return make(V::inconclusive, j.observed,
                rejected_text(seen.rejected) + " came to our port during the wait: forged, corrupted or another "
                "connection's, they are no answer, but the peer's own answer may have been among them");
  if (j.verdict != V::inconclusive && seen.ambiguous_copies > 0 && rests_on_silence(seen))
    return make(V::inconclusive, j.observed,
                std::to_string(seen.ambiguous_copies) + " segment(s) the same as one the peer sent before ours came: "
                "a network copy or the answer, nothing tells which");
  return j;
}

StrayJudgement judge_case(StrayCase id, const StrayProbe& p, const StrayObservation& seen) {
  switch (id) {
    case StrayCase::closed_fin:
    case StrayCase::closed_ack:
    case StrayCase::closed_null:
    case StrayCase::closed_xmas:
    case StrayCase::closed_syn_fin:
    case StrayCase::listen_ack: return expect_reset(p, seen);
    case StrayCase::closed_rst: return expect_silence(p, seen, "an RST is never answered");
    case StrayCase::listen_fin:
    case StrayCase::listen_null:
    case StrayCase::listen_xmas: return expect_silence(p, seen, "a segment without ACK or SYN is dropped in LISTEN");
    case StrayCase::listen_rst: return expect_silence(p, seen, "an RST is ignored in LISTEN");
    case StrayCase::live_rst_exact: return judge_rst_exact(p, seen);
    case StrayCase::live_rst_out_of_window: return judge_rst_out_of_window(p, seen);
    case StrayCase::live_rst_in_window:
    case StrayCase::live_syn:
    case StrayCase::live_ack_unsent:
    case StrayCase::live_data_old:
    case StrayCase::live_fin_out_of_window: {
      if (id == StrayCase::live_fin_out_of_window) {
        // Any segment of the peer's, its own included, that acks the FIN shows it was accepted.
        for (const auto& a : seen.answers)
          if (!a.icmp && !(a.flags & tcp_flag::rst) && (a.flags & tcp_flag::ack) && a.ack == p.seq + 1)
            return make(V::deviation, join_answers(seen.answers, p), "the out-of-window FIN was accepted");
      }
      return expect_ack(id, p, seen, *p.peer_rcv_nxt, "RCV.NXT");
    }
    case StrayCase::live_fin_exact: {
      // Only a peer that took the FIN can ack RCV.NXT+1: on its own FIN or data, too.
      auto j = expect_ack(id, p, seen, p.seq + 1, "the FIN (RCV.NXT+1)", true);
      if (j.verdict == V::conformant) j.observed += " (peer CLOSE_WAIT)";
      return j;
    }
    case StrayCase::tw_fin_retransmit: {
      auto j = expect_ack(id, p, seen, p.seq + 1, "the FIN");
      const StraySegment* t = first_real_tcp(seen.answers);
      if (j.verdict == V::deviation && t && (t->flags & tcp_flag::rst))
        j.reason = "reset: the peer kept no TIME_WAIT for the connection";
      return j;
    }
    case StrayCase::tw_rst: return judge_tw_rst(p, seen);
    case StrayCase::tw_syn: return judge_tw_syn(p, seen);
  }
  return make(V::inconclusive, "", "unknown case");
}
}  // namespace

}  // namespace tcpkit
