#pragma once
// tcpstray's catalogue: every stray-segment case with its group, purpose, the segment sent,
// the answer RFC 9293 / RFC 5961 / RFC 1337 expect, and where the RFC says so. Pure data.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpkit {

enum class StrayGroup { closed, listen, live, time_wait };

enum class StrayCase {
  closed_fin, closed_ack, closed_null, closed_xmas, closed_syn_fin, closed_rst,
  listen_fin, listen_null, listen_xmas, listen_ack, listen_rst,
  live_rst_exact, live_rst_in_window, live_rst_out_of_window, live_syn, live_ack_unsent, live_data_old,
  live_fin_exact, live_fin_out_of_window,
  tw_fin_retransmit, tw_rst, tw_syn,
};

// What a conforming stack sends back, as far as the runner needs to know: a reset (a segment
// lost on the way is sent again, and silence needs a control), an ACK (rate limits: asked again
// after a second), or nothing at all.
enum class StrayAnswer { reset, ack, silence };

struct StrayCaseInfo {
  StrayCase id;
  std::string_view name;       // "closed-fin": what --case takes
  StrayGroup group;
  std::string_view purpose;    // one line
  std::string_view sent;       // the segment, seq/ack relative to the peer's view
  std::string_view expected;   // the conforming answer
  std::string_view rfc;        // where the RFC says so
  StrayAnswer answer;          // the kind of the conforming answer (to the first segment sent)
  // The expected answer is an ACK that stacks rate-limit (challenge / duplicate ACKs): silence
  // may then be the limiter, not the stack (net.ipv4.tcp_invalid_ratelimit, tcp_challenge_ack_limit).
  bool rate_limited_answer;
};

// Every case, in the order tcpstray runs them (group by group).
std::span<const StrayCaseInfo> stray_catalogue();
const StrayCaseInfo& stray_case_info(StrayCase id);
std::optional<StrayCase> find_stray_case(std::string_view name);

// The flags of a sent spec alone, for a narrow table: "R seq=RCV.NXT, then P. 1 byte at RCV.NXT"
// gives "R then P.", "F. seq=RCV.NXT" gives "F.".
std::string sent_flags(std::string_view sent);

// The closed-port case that sends the same segment as a listening-port case whose answer is
// silence (listen-fin: closed-fin), or nothing. A reset there shows the segment reaches the stack;
// a firewall that drops it (conntrack's ct state invalid, a rule against scans) is silent at both.
std::optional<StrayCase> stray_closed_twin(StrayCase id);

std::string_view stray_group_name(StrayGroup group);  // "closed", "listen", "live", "time-wait"
std::optional<StrayGroup> parse_stray_group(std::string_view text);
std::vector<StrayCase> stray_cases_in(StrayGroup group);

}  // namespace tcpkit
