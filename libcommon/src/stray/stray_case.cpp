#include "tcpkit/stray/stray_case.hpp"

#include <array>

namespace tcpkit {

namespace {

using G = StrayGroup;
using C = StrayCase;
using A = StrayAnswer;

constexpr std::string_view kClosedRfc = "RFC 9293 3.10.7.1";
constexpr std::string_view kListenRfc = "RFC 9293 3.10.7.2";

const std::array<StrayCaseInfo, 22> kCatalogue = {{
    {C::closed_fin, "closed-fin", G::closed, "a FIN to a port nobody listens on is refused with a reset",
     "F seq=x", "R. seq=0 ack=x+1", kClosedRfc, A::reset, false},
    {C::closed_ack, "closed-ack", G::closed, "an ACK to a closed port is reset with the ACK's own number",
     ". seq=x ack=y", "R seq=y", kClosedRfc, A::reset, false},
    {C::closed_null, "closed-null", G::closed, "a segment with no flags at all is still answered with a reset",
     "none seq=x", "R. seq=0 ack=x", kClosedRfc, A::reset, false},
    {C::closed_xmas, "closed-xmas", G::closed, "FIN+PSH+URG (Xmas) to a closed port is reset",
     "FPU seq=x", "R. seq=0 ack=x+1", kClosedRfc, A::reset, false},
    {C::closed_syn_fin, "closed-syn-fin", G::closed, "SYN+FIN to a closed port is reset; both flags count in SEG.LEN",
     "FS seq=x", "R. seq=0 ack=x+2", kClosedRfc, A::reset, false},
    {C::closed_rst, "closed-rst", G::closed, "an RST is never answered, not even at a closed port",
     "R seq=x", "silence", kClosedRfc, A::silence, false},
    {C::listen_fin, "listen-fin", G::listen, "a FIN without ACK to a listener is dropped",
     "F seq=x", "silence", kListenRfc, A::silence, false},
    {C::listen_null, "listen-null", G::listen, "a segment with no flags to a listener is dropped",
     "none seq=x", "silence", kListenRfc, A::silence, false},
    {C::listen_xmas, "listen-xmas", G::listen, "FIN+PSH+URG without ACK to a listener is dropped",
     "FPU seq=x", "silence", kListenRfc, A::silence, false},
    {C::listen_ack, "listen-ack", G::listen, "an ACK to a listener acks nothing it sent: reset",
     ". seq=x ack=y", "R seq=y", kListenRfc, A::reset, false},
    {C::listen_rst, "listen-rst", G::listen, "an RST to a listener is ignored",
     "R seq=x", "silence", kListenRfc, A::silence, false},
    {C::live_rst_exact, "live-rst-exact", G::live, "an RST at exactly RCV.NXT resets the connection",
     "R seq=RCV.NXT, then P. 1 byte at RCV.NXT ack=SND.NXT-1000", "no answer to the RST; R to the byte", "RFC 5961 3.2", A::silence,
     false},
    {C::live_rst_in_window, "live-rst-in-window", G::live,
     "an in-window RST that is not exact only draws a challenge ACK (blind reset defence)",
     "R seq=RCV.NXT+wnd/2", "challenge ACK: . ack=RCV.NXT", "RFC 5961 3.2", A::ack, true},
    {C::live_rst_out_of_window, "live-rst-out-of-window", G::live, "an RST outside the window is dropped silently",
     "R seq=RCV.NXT+wnd+64K, then . at the same seq", "no answer to the RST; duplicate ACK . ack=RCV.NXT to the ACK",
     "RFC 5961 3.2", A::silence, false},
    {C::live_syn, "live-syn", G::live, "a SYN on an established connection draws a challenge ACK, not a reset",
     "S seq=RCV.NXT+wnd/2", "challenge ACK: . ack=RCV.NXT", "RFC 5961 4.2", A::ack, true},
    {C::live_ack_unsent, "live-ack-unsent", G::live, "an ACK for data the peer never sent is dropped and answered",
     ". seq=RCV.NXT ack=SND.NXT+64K", "duplicate ACK: . ack=RCV.NXT", "RFC 5961 5.2", A::ack, true},
    {C::live_data_old, "live-data-old", G::live, "data at an old, out-of-window seq is dropped and answered",
     "P. seq=RCV.NXT-1000 len=10", "duplicate ACK: . ack=RCV.NXT", "RFC 9293 3.10.7.4", A::ack, true},
    {C::live_fin_exact, "live-fin-exact", G::live, "a FIN at exactly RCV.NXT is acked; the peer enters CLOSE_WAIT",
     "F. seq=RCV.NXT ack=SND.NXT", ". ack=RCV.NXT+1 (peer CLOSE_WAIT)", "RFC 9293 3.10.7.4", A::ack, false},
    {C::live_fin_out_of_window, "live-fin-out-of-window", G::live,
     "a FIN outside the window is not processed: a duplicate ACK, no state change",
     "F. seq=RCV.NXT+wnd+64K", "duplicate ACK: . ack=RCV.NXT", "RFC 9293 3.10.7.4", A::ack, true},
    {C::tw_fin_retransmit, "tw-fin-retransmit", G::time_wait,
     "the peer in TIME_WAIT acks a retransmitted FIN again (why TIME_WAIT exists)",
     "F. seq=our FIN", ". ack=FIN+1", "RFC 9293 3.10.7.4", A::ack, false},
    {C::tw_rst, "tw-rst", G::time_wait,
     "an RST must not assassinate the peer's TIME_WAIT; a retransmitted FIN then shows if it survived",
     "R seq=RCV.NXT, then F. seq=our FIN", "no answer to the RST; . ack=FIN+1 (TIME_WAIT kept)", "RFC 1337 4",
     A::silence, false},
    {C::tw_syn, "tw-syn", G::time_wait,
     "a new SYN with a higher ISN: does the peer reuse the TIME_WAIT pair?",
     "S seq=RCV.NXT+64K", "S. with ISN above the old SND.NXT (reuse) or a challenge ACK",
     "RFC 9293 3.10.7.4, RFC 6191", A::ack, true},
}};

}  // namespace

std::span<const StrayCaseInfo> stray_catalogue() { return kCatalogue; }

const StrayCaseInfo& stray_case_info(StrayCase id) {
  for (const auto& info : kCatalogue)
    if (info.id == id) return info;
  return kCatalogue.front();  // unreachable: every enumerator is in the catalogue (unit-tested)
}

std::optional<StrayCase> find_stray_case(std::string_view name) {
  for (const auto& info : kCatalogue)
    if (info.name == name) return info.id;
  return std::nullopt;
}

std::string sent_flags(std::string_view sent) {
  std::string out;
  constexpr std::string_view kThen = ", then ";
  while (true) {
    const size_t then = sent.find(kThen);
    const std::string_view part = sent.substr(0, then);
    out += (out.empty() ? "" : " then ") + std::string(part.substr(0, part.find(' ')));
    if (then == std::string_view::npos) return out;
    sent.remove_prefix(then + kThen.size());
  }
}

std::optional<StrayCase> stray_closed_twin(StrayCase id) {
  switch (id) {
    case C::listen_fin: return C::closed_fin;
    case C::listen_null: return C::closed_null;
    case C::listen_xmas: return C::closed_xmas;
    default: return std::nullopt;
  }
}

std::string_view stray_group_name(StrayGroup group) {
  switch (group) {
    case G::closed: return "closed";
    case G::listen: return "listen";
    case G::live: return "live";
    case G::time_wait: return "time-wait";
  }
  return "?";
}

std::optional<StrayGroup> parse_stray_group(std::string_view text) {
  for (auto g : {G::closed, G::listen, G::live, G::time_wait})
    if (stray_group_name(g) == text) return g;
  if (text == "time_wait" || text == "timewait" || text == "tw") return G::time_wait;
  if (text == "listening") return G::listen;
  return std::nullopt;
}

std::vector<StrayCase> stray_cases_in(StrayGroup group) {
  std::vector<StrayCase> out;
  for (const auto& info : kCatalogue)
    if (info.group == group) out.push_back(info.id);
  return out;
}

}  // namespace tcpkit
