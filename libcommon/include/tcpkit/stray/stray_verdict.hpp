#pragma once
// Judging one stray-segment case: what was sent, what came back, and whether that answer
// conforms to the RFC the catalogue names. Pure logic, fed recorded answers in the unit tests.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/stray/stray_case.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/util/reject_counts.hpp"

namespace tcpkit {

enum class StrayVerdict { conformant, deviation, inconclusive };
std::string_view to_string(StrayVerdict verdict);

// One segment either way (or an ICMP error about ours), as -v shows it.
struct StraySegment {
  bool outbound = false;       // we sent it (crafted, or by our kernel on the live connection)
  bool crafted = false;        // injected by tcpstray rather than sent by a kernel
  int64_t time_ns = 0;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t window = 0;
  uint32_t payload_length = 0;
  uint8_t ttl = 0;             // TTL or hop limit on arrival (0: not known)
  bool icmp = false;           // an ICMP error quoting our segment (flags/seq unused)
  std::string icmp_text;
  IcmpMeaning icmp_meaning = IcmpMeaning::other;  // from the target itself, "host unreachable" is a refusal
  // The peer's own data or FIN on the connection (a banner, a close), or a reset it sent on its
  // own (set_aside_own_resets): never the answer to a stray segment, although its ack field
  // carries RCV.NXT like a challenge ACK does.
  bool peer_own = false;
  // Of those, a keepalive probe (is_keepalive_probe): it carries no answer either, so unlike data
  // or a FIN it leaves a silence decidable.
  bool keepalive = false;
  // ... sent while our last window was 0: the same form, the peer asking whether it reopened.
  bool window_probe = false;
  // Of the peer's own, one sent before our segment left: its TSval is older than the newest the
  // peer had sent by then, so the path held it back (found: the peer's ACK of our request, 600 ms
  // late, taken for the answer to our FIN). It carries no answer, and leaves a silence decidable.
  bool stale = false;
  std::optional<uint32_t> tsval;  // the peer's timestamp option, when it sent one
};

// What a received segment is. Only a segment the RFC predicts can be an answer: a pure ACK (no
// data, no SYN/FIN/RST), an RST or a SYN; data and FIN are the peer's own traffic.
enum class SegmentKind { pure_ack, data, fin, rst, syn, other };
SegmentKind classify_segment(uint8_t flags, uint32_t payload_length);
std::string_view to_string(SegmentKind kind);
bool is_peer_own_traffic(SegmentKind kind);
// A keepalive probe (RFC 9293 3.8.4; Linux sends it with no data): a pure ACK one below the
// peer's SND.NXT, sent by the peer's own timer. Like a challenge ACK it acks RCV.NXT, but it
// answers nothing: a server with a short keepalive made a dropped RST look answered.
bool is_keepalive_probe(uint8_t flags, uint32_t seq, uint32_t payload_length, uint32_t peer_snd_nxt);
// The first TCP segment in `all` that can be an answer (not ICMP, not the peer's own traffic).
const StraySegment* first_real_tcp(const std::vector<StraySegment>& all);

// The segment sent, and the peer's sequence state just before it (live and TIME_WAIT cases).
struct StrayProbe {
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint32_t payload_length = 0;
  std::optional<uint32_t> peer_rcv_nxt;   // the next seq the peer expects from us
  std::optional<uint32_t> peer_snd_nxt;   // the peer's next seq (what it has sent + 1)
  uint32_t sequence_length() const;       // payload + SYN + FIN
};

struct StrayObservation {
  // Everything from the peer after the probe, until the wait ended (its own traffic marked).
  std::vector<StraySegment> answers;
  // When the case's segment left (the capture's time, else the send's), and again for its second
  // try; the connection's smoothed RTT and retransmission timeout then (the kernel's, TCP_INFO):
  // an answer comes within about a round trip. 0: unknown.
  int64_t probe_sent_ns = 0, retry_sent_ns = 0;
  int64_t rtt_ns = 0, rto_ns = 0;
  // Its lowest RTT sample (TCP_INFO's min_rtt): no answer comes sooner than that. 0: unknown.
  int64_t min_rtt_ns = 0;
  // The peer reset the connection on its own after the case's segment: a reset set aside as its
  // own (set_aside_own_resets), or one that came while no answer was awaited. A connection found
  // gone afterwards then says nothing of what our segment did.
  bool peer_reset_on_its_own = false;
  bool follow_up_sent = false;  // live-rst-exact, live-rst-out-of-window and tw-rst send a second segment
  // tw-rst and tw-syn first send our FIN again: only a TIME_WAIT acks it (once more), so its
  // answer shows that there is a TIME_WAIT to test just before the stray segment.
  // A case that expects an ACK and saw nothing at all sends its segment once more, over a second
  // after the first (rate limits count per second; a segment may be lost): its answers.
  bool retried = false;
  std::vector<StraySegment> retry_answers;
  bool pre_check_sent = false;
  StrayProbe pre_check;
  std::vector<StraySegment> pre_check_answers;
  uint64_t pre_check_ambiguous = 0;  // of its answers, set aside as maybe copies (ambiguous_copies)
  StrayProbe follow_up;
  std::vector<StraySegment> follow_up_answers;
  // A live case that drew a reset then sends one byte at RCV.NXT: a connection that lives acks
  // it, so the reset was a middlebox's in the peer's name (conntrack's `ct state invalid reject
  // with tcp reset`), not the peer's stack's.
  bool life_check_sent = false;
  StrayProbe life_check;
  std::vector<StraySegment> life_check_answers;
  std::optional<std::string> setup_problem;  // the case could not be set up: inconclusive
  // Frames the kernel dropped from the case's capture: the answer may be among them, so
  // neither an answer nor silence can be judged (inconclusive).
  uint64_t capture_drops = 0;
  // Replies to our port that cannot answer our segment (forged, corrupted, another
  // connection's), never among the answers. A verdict that rests on silence is then
  // inconclusive: the peer's real answer may have been one of them.
  RejectCounts rejected;
  // Copies of an answer already seen (the network duplicated it): never a second answer.
  uint64_t duplicates = 0;
  // Segments the same as one the peer sent before our segment left, that neither the IPv4 ID
  // nor the timestamps prove a copy or an answer (earlier_copy.hpp): never answers, and a
  // verdict that rests on silence is then inconclusive.
  uint64_t ambiguous_copies = 0;
  // The peer sent its SYN/ACK again after the case's segment: it had not heard our handshake
  // ACK, so the segment met a half-open connection, not the state the case tests.
  bool handshake_unconfirmed = false;
};

struct StrayJudgement {
  StrayVerdict verdict = StrayVerdict::inconclusive;
  std::string observed;          // "R. seq=0 ack=1001", "silence", ". ack=RCV.NXT", ...
  std::string reason;            // why this verdict, one sentence
  bool rate_limit_possible = false;  // silence where a rate-limited ACK was expected
  std::string observed_flags;    // the same in flags only, for a narrow table: "R.", "silence", ". (+own)"
  // live-rst-exact: the connection survived an RST at exactly RCV.NXT. Then RSTs may not reach
  // the peer's stack on this path at all (a firewall that drops them), see apply_rst_control.
  bool rst_survived = false;
};

StrayJudgement judge_stray_case(StrayCase id, const StrayProbe& probe, const StrayObservation& seen);

// A live connection's resets that came later than an answer takes (reset_late_after_ns, from
// rtt_ns, rto_ns and the send time, for the case's segment and its second try), or after the
// peer's other answer with a TSval kOwnResetTicks or more above that answer's (a stack answers
// one segment at once, with one clock reading; a box that adds resets sends no TSval of the
// peer's), are marked the peer's own: the peer's application reset the connection (an abortive
// close: SO_LINGER 0, HAProxy's nolinger, an idle timeout that aborts), or a middlebox did in
// its name. Found: a server aborting its connections 1 s after accept made
// live-rst-out-of-window a deviation ("answered where the segment must be dropped silently",
// 504 ms after our RST). Any other reset is an answer, whatever it answers (a stack that
// answers an RST with one deviates). Left unmarked when the life check shows the connection
// alive: the reset is then a middlebox's (judge_stray_case). Returns how many were marked.
size_t set_aside_own_resets(StrayCase id, StrayObservation& seen);
// A reset this long after the segment left answers nothing: at least the margin, and more on a
// long path (a stack answers as the segment arrives; the margin is for a busy host and a path
// whose delay varies), and never less than the connection's retransmission timeout.
inline constexpr int64_t kResetLateMarginNs = 200'000'000;
inline constexpr int64_t kResetLateRtts = 4;
inline constexpr uint32_t kOwnResetTicks = 2;
int64_t reset_late_after_ns(int64_t rtt_ns, int64_t rto_ns = 0);

// Whether the case drew an answer from the peer's TCP stack: a TCP segment that is not the
// peer's own traffic, to the case's segment or to its follow-up (an ICMP error is a firewall's
// or a router's, no proof that the segment reached the stack).
bool stray_drew_answer(const StrayObservation& seen);
// The same, from no nearer than the box whose segments come with `ttl` (0: from anyone), compared
// by hops (answer_hop). A reset from nearer is another box's answer (a router's own stack behind
// port forwarding), no proof that the segment reached the listener.
bool stray_drew_answer_with_ttl(const StrayObservation& seen, uint8_t ttl);
// The same, or its second try (sent again over a second later) drew one.
bool stray_drew_answer_on_either_try(const StrayObservation& seen);

// Whether the peer's side answered the case, its second try or its follow-up with a reset.
bool stray_drew_reset(const StrayObservation& seen);

// The RST control of tw-rst: a TIME_WAIT that survives our RST shows nothing when, in the same
// run, an RST at exactly RCV.NXT left a live connection alive too (live-rst-exact's judgement):
// the RSTs may never have reached the peer's stack. A conformant tw-rst then becomes
// inconclusive, as it does when live-rst-exact ran but could not show an RST taking effect;
// without live-rst-exact in the run (nullptr) it stands, its reason saying what was not checked.
StrayJudgement apply_rst_control(StrayJudgement tw_rst, const StrayJudgement* live_rst_exact);

// The loss control: a deviation that rests on silence (no answer came from the peer's stack)
// decides nothing when the run saw the path lose packets; it becomes inconclusive.
StrayJudgement apply_loss_control(StrayJudgement judgement, const StrayObservation& seen, bool loss_seen);

// A closed- or listening-port case sent again because the tries before drew nothing: the
// judgement of the try that drew an answer, saying so (`silent_tries`: how many came before).
StrayJudgement later_try(StrayJudgement judgement, int silent_tries = 1);

// Connection cases whose outcome a lost segment can fake are run on fresh connections until
// enough show the same (stray_session): live-rst-exact and tw-rst, where a lost RST looks like
// one the peer survived, and the cases whose ACK no stack rate-limits, where lost segments look
// like a peer that does not answer.
// The judgement of the connection that decided, after `earlier` on which `what` happened
// ("the RST showed no effect", "nothing came back").
StrayJudgement judged_on_later_connection(StrayJudgement judgement, int earlier, std::string_view what);
// The judgement of the first, when all `connections` showed the same.
StrayJudgement same_on_connections(StrayJudgement judgement, int connections);
// When only `connections` of the `needed` showed it (the others could not be set up, or showed
// nothing either way): not confirmed, and decides nothing (inconclusive).
StrayJudgement unconfirmed_on_connections(StrayJudgement judgement, int connections, int needed);

// Silence where an RST was due that held over `tries` tries of the segment, while the port's
// control segment (`control`, a case name) drew an answer after each of the last `controlled`:
// the deviation, saying how it was confirmed.
StrayJudgement confirmed_silence(StrayJudgement judgement, int tries, int controlled, std::string_view control);

// The port control (closed and listening ports). Silence from a port decides nothing unless the
// same run shows that segments reach the peer's stack there: a case of the same group, or a
// control segment sent for the purpose, drew an answer. Without one (control_answered false),
// a verdict that is not inconclusive already becomes inconclusive: every one of them rests on
// silence. `host_note`, when not empty, is what is known about why (the neighbour entry of the
// target never resolved) and replaces the generic reason.
StrayJudgement apply_port_control(StrayJudgement judgement, uint16_t port, bool control_answered,
                                  const std::string& host_note = "");

// The twin control (listen-fin, listen-null, listen-xmas): their silence shows the listener's
// answer only when the same segment to the closed port drew a reset there (`twin_answered`, the
// twin case's, stray_closed_twin). Else a conformant verdict becomes inconclusive; `problem`, when
// not empty, says why the closed port could not show it.
StrayJudgement apply_twin_control(StrayJudgement judgement, StrayCase twin, uint16_t closed_port, bool twin_answered,
                                  const std::string& problem = "");

// The same-port control, after the twin control found the segment reaches the closed port's
// stack: the listener's silence shows its answer only when FIN|ACK to the listening port drew
// its reset there (`answered`, run_listener_fin_ack). FIN|ACK is as invalid to conntrack as
// the listener's cases, so a firewall that guards the listening port alone (tcp dport N ct
// state invalid drop) is silent to both. Else a conformant verdict becomes inconclusive.
StrayJudgement apply_same_port_control(StrayJudgement judgement, uint16_t port, bool answered);

// The reach control of live-rst-exact: a connection that survived an RST at exactly RCV.NXT
// shows a stack that ignores it only where RSTs reach the stack at all: an in-window RST of the
// same run drew its challenge ACK (`reached`, from live-rst-in-window). Else the deviation
// becomes inconclusive (found: a firewall rule that drops RSTs, `tcp flags rst drop`, read as
// a stack that survives them).
StrayJudgement apply_reach_control(StrayJudgement judgement, bool reached);

// The same for the FINs of the live group: live-fin-exact's or live-fin-out-of-window's silence
// (no ACK came) shows the stack's answer only where FINs reach it at all: the other FIN case of
// the same run drew an answer (`other_answered`). Else the deviation becomes inconclusive
// (found: a stateful firewall that lost the connection's state drops its FINs as invalid, and
// live-fin-exact read "no ACK came back").
StrayJudgement apply_fin_reach_control(StrayJudgement judgement, const StrayObservation& seen, bool other_answered);

// The drop control (closed-rst, listen-rst): an RST is answered by nothing, so no control can
// show that it reached the stack. When the same run shows segments without a connection dropped
// before the stack (`drops`, what showed it: a closed-port case silent over its tries while the
// port's control answered, or a listener's twin silent at the closed port), a firewall that drops
// what conntrack finds invalid is there, and drops such RSTs too: a conformant verdict becomes
// inconclusive. (Found: behind ct state invalid drop, closed-rst read conformant beside four
// deviations that named the firewall.)
StrayJudgement apply_drop_control(StrayJudgement judgement, const std::string& drops);

// A listener's verdict that rests on an answer whose TTL says it came from nearer than the
// listener (listener_ttl, 0: not known; compared by hops, answer_hop; `whose` says where it was
// seen: "the listener's SYN/ACK"): another box answered,
// and the verdict (a deviation, or a conformant reset) becomes inconclusive (found: behind port
// forwarding, conntrack leaves a FIN, NULL or Xmas without a connection untranslated, and the
// router's own stack reset them, one hop nearer, read as the server's deviations; with
// nf_conntrack_tcp_loose 0 the router reset listen-ack's ACK too, read conformant).
StrayJudgement apply_ttl_control(StrayJudgement judgement, const StrayObservation& seen, uint8_t listener_ttl,
                                 std::string_view whose);

// The half-open control (live-syn, live-ack-unsent). A listener that defers accept until data
// comes (TCP_DEFER_ACCEPT: nginx `deferred`, haproxy `defer-accept`) drops our handshake ACK and
// keeps the connection half-open (SYN-RECEIVED), where an RST is the RFC 9293 answer to both
// segments. So their RST counts as a deviation only where the peer showed that it had taken the
// connection (stray_peer_took_connection); else the session runs the case again on a primed
// connection. Whether this judgement needs that control:
bool needs_half_open_control(StrayCase id, const StrayJudgement& judgement, const StrayObservation& seen);
// The primed connection's judgement, after `first` on a connection the peer had not shown it took.
StrayJudgement judged_on_primed_connection(StrayJudgement primed, const StrayJudgement& first, size_t primed_bytes);
// `first` when the primed connection could not be set up (`problem`): it decides nothing.
StrayJudgement unproven_connection(StrayJudgement first, std::string_view problem);

// "R. seq=0 ack=1001 win=0" (and "len=10" when there is data); "ICMP port unreachable".
std::string describe_segment(const StraySegment& segment);
// The same, with an answer's seq and ack relative to the connection where the probe knows it:
// "A. seq=SND.NXT ack=RCV.NXT+1 win=502".
std::string describe_answer(const StraySegment& segment, const StrayProbe& probe);

}  // namespace tcpkit
