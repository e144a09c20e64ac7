#include "tcpprobe/probe_report.hpp"

#include "common/wording.hpp"
#include "tcpkit/util/display_width.hpp"

#include <cmath>

namespace tcpprobe {

using tcpkit::format_fixed;
using tcpkit::ProbeOutcome;
using tcpkit::Record;

namespace {

const std::vector<std::string> kCsvColumns = {
    "type", "time", "target", "address", "port", "mode", "probe", "outcome", "rtt_ms", "rtt_us", "ttl", "window",
    "flags", "mss", "sack_permitted", "timestamps", "wscale", "source_port", "responder", "icmp_type", "icmp_code",
    "icmp_text", "quote_rewritten", "connect_ms", "kernel_rtt_us", "timestamp_source", "sent", "answered", "open", "closed", "filtered",
    "unreachable", "loss_pct", "capture_drops", "bad_checksum", "rejected", "duplicates", "conflicting", "late", "unmatched_rst",
    "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms",
    "rtt_mdev_ms", "rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms", "elapsed_ms", "ack_check", "unsent", "first_outcome"};

double ms(int64_t ns) { return double(ns) / 1e6; }
// Milliseconds kept to the nanosecond, without float noise in the JSON text.
double ms_exact(int64_t ns) { return std::round(double(ns)) / 1e6; }

// Like ping -D: "[seconds.microseconds] ", the fraction zero-padded to its six digits.
std::string wall_prefix(int64_t ns) {
  constexpr int64_t kNsPerSecond = 1'000'000'000, kNsPerUs = 1000;
  constexpr size_t kMicroDigits = 6;
  return "[" + std::to_string(ns / kNsPerSecond) + "." + [&] {
    std::string frac = std::to_string((ns % kNsPerSecond) / kNsPerUs);
    return std::string(kMicroDigits - frac.size(), '0') + frac;
  }() + "] ";
}

const char* timestamp_source(const TargetStats& s) { return s.user_timestamps ? "user" : "kernel"; }

double loss_pct(const TargetStats& s) {
  return s.sent ? 100.0 * double(s.sent - s.answered()) / double(s.sent) : 0.0;
}

// Milliseconds written to the nanosecond (the JSON text without float noise); loss and elapsed
// time to three decimals, the kernel's RTT (whole microseconds) to the microsecond.
constexpr double kNanosecondPlaces = 1e6, kThreePlaces = 1e3;
constexpr size_t kTextWidth = tcpkit::cli::kTerminalColumns;
double rounded(double value, double places) { return std::round(value * places) / places; }

Record summary_record(const TargetInfo& info, const TargetStats& s) {
  const auto rtt = s.rtt_ms.summary();
  Record rec;
  rec["type"] = "summary";
  rec["target"] = info.target;
  rec["address"] = info.address.to_string();
  rec["port"] = info.port;
  rec["mode"] = info.mode;
  rec["sent"] = s.sent;
  rec["answered"] = s.answered();
  rec["open"] = s.open;
  rec["closed"] = s.closed;
  rec["filtered"] = s.filtered;
  rec["unreachable"] = s.unreachable;
  rec["loss_pct"] = rounded(loss_pct(s), kThreePlaces);
  rec["capture_drops"] = s.capture_drops;
  rec["bad_checksum"] = s.bad_checksum;
  rec["rejected"] = s.rejected.total();
  rec["rejected_by"] = tcpkit::rejected_by_record(s.rejected);
  rec["duplicates"] = s.duplicates;
  rec["conflicting"] = s.conflicting;
  rec["late"] = s.late;
  rec["unmatched_rst"] = s.unmatched_rst;
  rec["held"] = s.held;
  rec["held_unanswered"] = s.held_unanswered;
  rec["retried"] = s.retried;
  rec["syn_ack_resent"] = s.syn_ack_resent;
  rec["zero_window"] = s.zero_window;
  rec["reset_at_once"] = s.reset_at_once;
  rec["unsent"] = s.unsent;
  if (rtt.count) {
    rec["rtt_min_ms"] = rounded(rtt.min, kNanosecondPlaces);
    rec["rtt_avg_ms"] = rounded(rtt.avg, kNanosecondPlaces);
    rec["rtt_max_ms"] = rounded(rtt.max, kNanosecondPlaces);
    rec["rtt_mdev_ms"] = rounded(rtt.mdev, kNanosecondPlaces);
    rec["rtt_p50_ms"] = rounded(rtt.p50, kNanosecondPlaces);
    rec["rtt_p90_ms"] = rounded(rtt.p90, kNanosecondPlaces);
    rec["rtt_p99_ms"] = rounded(rtt.p99, kNanosecondPlaces);
    rec["timestamp_source"] = timestamp_source(s);
  }
  if (!s.kernel_rtt_ms.empty()) rec["kernel_rtt_avg_ms"] = rounded(s.kernel_rtt_ms.summary().avg, kThreePlaces);
  rec["elapsed_ms"] = rounded(s.elapsed_ms, kThreePlaces);
  rec["interrupted"] = s.interrupted;
  rec["ack_check"] = s.ack_check ? Record(tcpkit::to_string(s.ack_check->kind)) : Record(nullptr);
  if (s.ack_check && s.ack_check->kind == tcpkit::AckCheck::icmp) rec["ack_check_icmp"] = s.ack_check->icmp;
  return rec;
}

// Connect mode: the kernel sent the SYN again before the answer came, so the time is its
// retransmission timeout, not a round trip.
std::string resent_text(const tcpkit::ProbeReply& r) {
  if (r.syn_ack_resent_after_s)
    return " (" + std::to_string(r.syn_ack_resent_after_s) +
           " s over a normal answer: the peer's SYN/ACK sent again, its first lost; not a round trip)";
  if (!r.syn_retransmits) return "";
  return " (after " + tcpkit::cli::count_text(r.syn_retransmits, "SYN") + " sent again: not a round trip)";
}

// What came back but is no answer, only when there was any.
std::string not_answers_text(const TargetStats& s) {
  std::string extra;
  auto add = [&](const std::string& part) { extra += (extra.empty() ? "" : ", ") + part; };
  if (s.duplicates) add(tcpkit::cli::count_text(s.duplicates, "duplicate"));
  if (s.conflicting) add(tcpkit::cli::count_text(s.conflicting, "conflicting answer"));
  if (s.late)
    add(tcpkit::cli::count_text(s.late, "late answer") +
        (s.answered() == 0 ? " (after -W: the host answers, slower than -W allows; raise -W)" : " (after -W)"));
  if (s.unmatched_rst) add(tcpkit::cli::count_text(s.unmatched_rst, "unmatched RST") + " (no ack to name a probe)");
  if (s.rejected.total()) add(tcpkit::rejected_text(s.rejected));
  return extra.empty() ? "" : "not answers: " + extra + "\n";
}

// Probes answered only after the kernel's SYN retry (connect mode): why their times are left
// out, folded to the terminal's width.
std::string retried_text(const TargetStats& s) {
  if (!s.retried) return "";
  return tcpkit::wrap_cells(tcpkit::cli::count_text(s.retried, "probe") + " got their answer only after the kernel sent the "
                                "SYN again: the SYN or the answer was lost, and their times hold the kernel's "
                                "retransmission timeout (1 s, then more), so they are left out of the rtt figures",
                            kTextWidth, 2);
}

// "1 answer was", "3 answers were": the count and its verb, for the summary's notes.
std::string counted_were(uint64_t n, const char* word) {
  return tcpkit::cli::count_text(n, word) + (n == 1 ? " was" : " were");
}

// syn mode: answers that were the peer's SYN/ACK sent again, folded the same way.
std::string resent_syn_ack_text(const TargetStats& s) {
  if (!s.syn_ack_resent) return "";
  return tcpkit::wrap_cells(counted_were(s.syn_ack_resent, "answer") +
                                " a normal answer late by the peer's retransmission timeout (1 s, or 3 s: Linux's "
                                "first or second resend): its SYN/ACK sent again, the first lost, so their times hold "
                                "that timeout, not a round trip, and are left out of the rtt figures",
                            kTextWidth, 2);
}

// Probes whose SYN never left: the loss is the next hop's silence to ARP/ND, on our own link.
std::string unsent_text(const TargetInfo& info, const TargetStats& s) {
  if (!s.unsent) return "";
  return tcpkit::wrap_cells(tcpkit::cli::count_text(s.unsent, "SYN") + " never left this host: the next hop on " +
                                info.interface + " did not answer ARP or neighbour discovery (a host or router that is "
                                "gone or not on the link), so the target never heard of " + (s.unsent == 1 ? "it" : "them"),
                            kTextWidth, 2);
}

// Answers that came from a connection the peer kept (-s): what they mean, folded the same way.
std::string held_text(const TargetStats& s) {
  if (!s.held) return "";
  const uint64_t reset = s.held - s.held_unanswered;  // held though our RST went to it
  std::string text;
  if (reset)
    text += tcpkit::wrap_cells(counted_were(reset, "answer") +
                                   " an ACK for an earlier probe's connection, which the peer still held: our RSTs do not "
                                   "reach it (a firewall that drops them?), so each probe from this source port meets that "
                                   "connection, and Linux sends such an ACK at most every 0.5 s (net.ipv4.tcp_invalid_ratelimit), so probes "
                                   "closer together draw nothing; the port listens (without -s each probe has a port pair "
                                   "of its own)",
                               kTextWidth, 2);
  // Found: a lost SYN/ACK and the kernel giving its port out again read as dropped RSTs.
  if (s.held_unanswered)
    text += tcpkit::wrap_cells(counted_were(s.held_unanswered, "answer") +
                                   " an ACK for the connection of an earlier probe whose SYN/ACK never reached us (lost "
                                   "on the way), so no RST of ours ended it: the peer still held it, sending its SYN/ACK "
                                   "again, when a later probe used the same source port (-s, or the kernel giving the "
                                   "port out again); the port listens",
                               kTextWidth, 2);
  return text;
}

// Probes answered twice with different outcomes: what that means. The first answer is the one
// counted; neither can be trusted alone.
std::string conflicting_text(const TargetStats& s) {
  if (!s.conflicting) return "";
  return tcpkit::wrap_cells(counted_were(s.conflicting, "probe") +
                                " answered twice, with different outcomes (CONFLICT! lines): two parties answer for "
                                "this address, as a SYN proxy or load balancer and the server behind it, or two hosts "
                                "that both hold it; the first answer is the one counted",
                            kTextWidth, 2);
}

// Open answers that may stand for a SYN proxy, not the server: what they mean.
std::string proxy_text(const TargetStats& s) {
  std::string out;
  if (s.zero_window)
    out += tcpkit::wrap_cells(tcpkit::cli::count_text(s.zero_window, "open answer") + (s.zero_window == 1 ? " has" : " have") +
                                  " a zero window (win 0), a SYN proxy's mark: netfilter SYNPROXY answers so for every "
                                  "port it guards, listened on or not, and these times are its own; the port may be "
                                  "closed behind it (--trace shows what follows the handshake: an RST, no server)",
                              kTextWidth, 2);
  if (s.reset_at_once)
    out += tcpkit::wrap_cells(counted_were(s.reset_at_once, "connection") +
                                  " reset as soon as made: a SYN proxy whose server refused the port (the port is "
                                  "then closed behind it), or a server that resets at once",
                              kTextWidth, 2);
  return out;
}

std::string rtt_text(const TargetStats& s) {
  std::string out;
  if (const auto rtt = s.rtt_ms.summary(); rtt.count) {
    out += "rtt min/avg/max/mdev = " + format_fixed(rtt.min, 3) + "/" + format_fixed(rtt.avg, 3) + "/" +
           format_fixed(rtt.max, 3) + "/" + format_fixed(rtt.mdev, 3) + " ms\n";
    out += "rtt p50/p90/p99 = " + format_fixed(rtt.p50, 3) + "/" + format_fixed(rtt.p90, 3) + "/" +
           format_fixed(rtt.p99, 3) + " ms (" + timestamp_source(s) + " timestamps)\n";
  }
  if (!s.kernel_rtt_ms.empty()) {
    const auto k = s.kernel_rtt_ms.summary();
    out += "kernel rtt (TCP_INFO) min/avg/max = " + format_fixed(k.min, 3) + "/" + format_fixed(k.avg, 3) + "/" +
           format_fixed(k.max, 3) + " ms\n";
  }
  return out;
}

// A closed port that answered only some probes: its RSTs are held back or lost, which the loss
// figure alone reads as heavy loss (found: 1 closed, then 7 filtered, "87.5% loss", behind a
// firewall limiting RSTs to one a second).
std::string partly_closed_text(const TargetStats& s) {
  if (!s.closed || !s.filtered || s.open || s.unreachable || s.unsent) return "";
  return tcpkit::wrap_cells(counted_were(s.filtered, "probe") + " not answered while " +
                                tcpkit::cli::count_text(s.closed, "probe") +
                                " drew an RST: the port is closed, and its RSTs are held back (a firewall that "
                                "rate-limits them; BSD and Windows stacks limit their own) or lost on the way",
                            kTextWidth, 2);
}

std::string summary_text(const TargetInfo& info, const TargetStats& s) {
  const double loss = loss_pct(s);
  std::string out = "\n--- " + info.target + " (" + info.address.to_string_with_port(info.port) + ") tcpprobe statistics ---\n";
  // Folded: with a few thousand probes and 100% loss it passed 80 columns. Only between its
  // phrases (found: "time 401" and "ms" on two lines, and a grep for "time [0-9]+ ms" failed).
  out += tcpkit::fold_phrases(
      {tcpkit::cli::count_text(s.sent, "probe") + " sent",
       std::to_string(s.answered()) + " answered (" + std::to_string(s.open) + " open, " + std::to_string(s.closed) +
           " closed, " + std::to_string(s.unreachable) + " unreachable)",
       format_fixed(loss, loss == 0 || loss == 100 ? 0 : 1) + "% loss" +
           (s.capture_drops
                ? " (the capture dropped " + std::to_string(s.capture_drops) + " frames: answers may be among them)"
                : ""),
       "time " + format_fixed(s.elapsed_ms, 0) + " ms"},
      ", ", kTextWidth, 2);
  return out + not_answers_text(s) + conflicting_text(s) + unsent_text(info, s) + partly_closed_text(s) + held_text(s) +
         retried_text(s) + resent_syn_ack_text(s) + proxy_text(s) +
         ack_check_text(info.port, s.ack_check) + rtt_text(s);
}

}  // namespace

namespace {
// What an ICMP error to the ACK says (found: "a firewall or router refuses the port" for a host
// unreachable from the router before a host that was gone).
std::string icmp_meaning_text(tcpkit::IcmpMeaning meaning) {
  switch (meaning) {
    case tcpkit::IcmpMeaning::refused:
      return "a firewall or router refuses the port's segments, and dropped the SYNs unanswered";
    case tcpkit::IcmpMeaning::port_unreachable:
      return "the port's segments are rejected (a firewall's reject rule, most often)";
    case tcpkit::IcmpMeaning::host_unreachable:
      return "the host is not reachable (gone, or no route to it): nothing refuses the port itself";
    case tcpkit::IcmpMeaning::other: break;
  }
  return "something on the way refuses the port's segments";
}
}  // namespace

// What the ACK check says about SYNs that drew nothing; folded to the terminal's 80 columns.
std::string ack_check_text(uint16_t port, const std::optional<tcpkit::AckCheckAnswer>& check) {
  if (!check) return "";
  const std::string ack = "ack check: an ACK to port " + std::to_string(port);
  std::string line;
  switch (check->kind) {
    case tcpkit::AckCheck::reset:
      line = ack + " drew an RST, so segments reach a TCP stack there and only the SYNs went unanswered: "
                   "a listener whose accept queue is full (a server that stopped accepting) or whose SYN queue is (a "
                   "SYN flood where tcp_syncookies is 0), a SYN rate limit, a rule that drops SYNs alone, or one that "
                   "drops the SYN/ACKs on their way back (on the server's output or the return path)";
      break;
    case tcpkit::AckCheck::late_reset:
      line = ack + " drew an RST, but only after -W: the host answers, slower than -W allows, so the SYNs' answers "
                   "may have come too late as well; raise -W";
      break;
    case tcpkit::AckCheck::icmp: line = ack + " drew an ICMP " + check->icmp + ": " + icmp_meaning_text(check->icmp_meaning); break;
    case tcpkit::AckCheck::silence:
      line = "ack check: " + std::to_string(tcpkit::AckCheckConfig{}.tries) + " ACKs to port " + std::to_string(port) +
             " drew nothing either: a firewall that drops every segment to the port, the host is gone, or heavy loss";
      break;
  }
  return tcpkit::wrap_cells(line, kTextWidth, 2);
}


Reporter::Reporter(tcpkit::Format format, bool quiet, bool wall_clock)
    : format_(format), quiet_(quiet), wall_clock_(wall_clock), json_(stdout), csv_(stdout, kCsvColumns) {}

void Reporter::header(const TargetInfo& info) {
  if (format_ != tcpkit::Format::text) return;
  std::lock_guard<std::mutex> lock(mutex_);
  std::printf("TCPPROBE %s (%s) from %s %s: %s mode\n", info.target.c_str(),
              info.address.to_string_with_port(info.port).c_str(), info.source.to_string().c_str(),
              info.interface.c_str(), info.mode.c_str());
  std::fflush(stdout);
}

Record Reporter::probe_record(const TargetInfo& info, const tcpkit::ProbeReply& r) const {
  Record rec;
  // A duplicate repeats probe N's answer; a conflicting answer contradicts it (first_outcome).
  rec["type"] = r.conflicts_with ? "conflicting" : r.duplicate ? "duplicate" : "probe";
  if (r.conflicts_with) rec["first_outcome"] = tcpkit::to_string(*r.conflicts_with);
  const auto sent_us = r.sent_ns / 1000;  // whole microseconds: the time is written to 1 us
  rec["time"] = double(sent_us) / 1e6;
  rec["target"] = info.target;
  rec["address"] = info.address.to_string();
  rec["port"] = info.port;
  rec["mode"] = info.mode;
  rec["probe"] = r.probe_id;
  rec["outcome"] = tcpkit::to_string(r.outcome);
  if (r.unsent) rec["unsent"] = true;
  if (r.rtt_ns) {
    rec["rtt_ms"] = ms_exact(*r.rtt_ns);
    rec["rtt_us"] = std::llround(double(*r.rtt_ns) / 1e3);
  }
  if (r.outcome == ProbeOutcome::open || r.outcome == ProbeOutcome::closed) {
    if (r.ttl) rec["ttl"] = r.ttl;
    if (info.mode == "syn") {
      rec["window"] = r.window;
      rec["flags"] = tcpkit::flags_compact(r.flags);
    }
    if (r.held_by) rec["held_by_probe"] = *r.held_by;
    if (r.held_unanswered) rec["held_unanswered"] = true;
    if (r.syn_ack_resent_after_s) rec["syn_ack_resent"] = true;
    if (r.shown_open_by) rec["shown_open_by_probe"] = *r.shown_open_by;
    if (r.split_handshake) rec["split_handshake"] = true;
    if (r.outcome == ProbeOutcome::open && !r.held_by && !r.shown_open_by) {
      if (const auto mss = r.options.mss()) rec["mss"] = *mss;
      rec["sack_permitted"] = r.options.sack_permitted();
      rec["timestamps"] = r.options.timestamps().has_value();
      if (const auto scale = r.options.window_scale()) rec["wscale"] = *scale;
    }
  }
  rec["source_port"] = r.source_port;
  if (r.outcome == ProbeOutcome::unreachable) {
    rec["responder"] = r.responder.to_string();
    if (r.icmp_type || r.icmp_code) {
      rec["icmp_type"] = r.icmp_type;
      rec["icmp_code"] = r.icmp_code;
    }
    rec["icmp_text"] = r.icmp_text;
    rec["quote_rewritten"] = r.quote_rewritten;
  }
  if (r.connect_ns) rec["connect_ms"] = ms_exact(*r.connect_ns);
  if (r.kernel_rtt_us) rec["kernel_rtt_us"] = *r.kernel_rtt_us;
  if (info.mode == "connect" && r.outcome != ProbeOutcome::filtered) rec["syn_retransmits"] = r.syn_retransmits;
  if (r.reset_after_handshake) rec["reset_after_handshake"] = true;
  if (r.rtt_ns) rec["timestamp_source"] = tcpkit::to_string(r.timestamps);
  return rec;
}

namespace {
// -W as given: whole milliseconds as such, a wait under one not as "0 ms" (found with -W 0.0004).
std::string wait_text(std::chrono::microseconds timeout) {
  const double ms = double(timeout.count()) / 1000.0;
  return format_fixed(ms, ms < 1 ? 3 : std::floor(ms) == ms ? 0 : 1) + " ms";
}
}  // namespace

std::string Reporter::probe_text(const TargetInfo& info, const tcpkit::ProbeReply& r,
                                 std::chrono::microseconds timeout) const {
  std::string line = wall_clock_ ? wall_prefix(r.sent_ns) : "";
  const std::string where = info.address.to_string_with_port(info.port);
  const std::string probe = " probe=" + std::to_string(r.probe_id);
  const std::string rtt = r.rtt_ns ? " rtt=" + format_fixed(ms(*r.rtt_ns), 3) + " ms" : "";
  if (r.duplicate) {
    // Like ping's "(DUP!)": shown, never counted; rtt from that probe's SYN.
    const std::string from = r.outcome == ProbeOutcome::unreachable ? r.responder.to_string() : where;
    const std::string what = r.outcome == ProbeOutcome::unreachable ? "ICMP" : tcpkit::flags_compact(r.flags);
    if (r.conflicts_with)
      return line + "from " + from + ": " + tcpkit::to_string(r.outcome) + " (" + what + "), a second answer for" + probe +
             rtt + ", which was " + tcpkit::to_string(*r.conflicts_with) + " (CONFLICT!)\n";
    return line + "from " + from + ": duplicate " + what + " for" + probe + rtt + " (DUP!)\n";
  }
  switch (r.outcome) {
    case ProbeOutcome::open:
      line += "from " + where + ": open" + probe + rtt;
      if (r.kernel_rtt_us) line += " kernel_rtt=" + format_fixed(*r.kernel_rtt_us / 1000.0, 3) + " ms";
      line += resent_text(r);
      if (r.ttl) line += " ttl=" + std::to_string(r.ttl);
      if (info.mode == "syn") line += " win=" + std::to_string(r.window);
      // The options worth reading (timestamp values are noise).
      if (!r.options.empty() && !r.held_by) line += " opts=" + r.options.to_string(tcpkit::OptionText::brief);
      if (r.held_by)
        line += " (an ACK: the peer still holds probe " + std::to_string(*r.held_by) + "'s connection" +
                (r.held_unanswered ? ", whose SYN/ACK was lost)" : ")");
      if (r.shown_open_by)
        line += " (no SYN/ACK came: probe " + std::to_string(*r.shown_open_by) +
                "'s answer showed the peer holding this probe's connection)";
      if (r.reset_after_handshake) line += " (then reset at once)";
      if (r.split_handshake) line += " (a SYN, no SYN/ACK: a split handshake)";
      break;
    case ProbeOutcome::closed:
      line += "from " + where + ": closed" + probe + rtt + resent_text(r);
      if (r.ttl) line += " ttl=" + std::to_string(r.ttl);
      if (info.mode == "syn") line += " flags=" + tcpkit::flags_compact(r.flags);
      break;
    case ProbeOutcome::unreachable:
      line += "from " + r.responder.to_string() + ": unreachable" + probe + rtt + resent_text(r);
      if (r.icmp_type || r.icmp_code)
        line += " icmp" + std::string(r.icmp_v6 ? "6" : "") + "=" + std::to_string(r.icmp_type) + "/" +
                std::to_string(r.icmp_code);
      line += " (" + r.icmp_text + ") for " + where;
      if (r.quote_rewritten) line += ", whose quote of our SYN shows its seq or source port rewritten on the way";
      break;
    case ProbeOutcome::filtered:
      line += where + ": filtered" + probe +
              (r.unsent ? " (our SYN never left this host: no ARP or neighbour discovery answer from the next hop)"
                        : " (no answer in " + wait_text(timeout) + ")");
      break;
  }
  return line + "\n";
}

void Reporter::probe(const TargetInfo& info, const tcpkit::ProbeReply& reply, std::chrono::microseconds timeout) {
  if (quiet_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  switch (format_) {
    case tcpkit::Format::json: json_.write(probe_record(info, reply)); break;
    case tcpkit::Format::csv: csv_.write(probe_record(info, reply)); break;
    case tcpkit::Format::text: {
      const std::string line = probe_text(info, reply, timeout);
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
      break;
    }
  }
}

void Reporter::summary(const TargetInfo& info, const TargetStats& s) {
  std::lock_guard<std::mutex> lock(mutex_);
  switch (format_) {
    case tcpkit::Format::json: json_.write(summary_record(info, s)); break;
    case tcpkit::Format::csv: csv_.write(summary_record(info, s)); break;
    case tcpkit::Format::text: {
      const std::string out = summary_text(info, s);
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
      break;
    }
  }
}

}  // namespace tcpprobe
