#include "tcpprobe/trace_report.hpp"

#include <cmath>
#include <cstdio>

#include "common/wording.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/util/reject_counts.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpprobe {

using tcpkit::format_fixed;
using tcpkit::Record;

namespace {

const std::vector<std::string> kCsvColumns = {
    "type", "index", "time_ms", "delta_ms", "direction", "flags", "seq", "ack", "len", "window", "scaled_window",
    "options", "our_state", "peer_state", "retransmission", "duplicate_ack", "out_of_order", "after_gap", "target", "local", "remote",
    "outcome", "close_kind", "syn_to_synack_ms", "syn_to_established_ms", "close_ms", "unfinished_close_ms", "time_wait_left_ms",
    "bytes_sent", "bytes_received", "own_delay_ms", "own_close_delay_ms", "ack_check"};

double ms(int64_t ns) { return std::round(double(ns)) / 1e6; }

// SACK blocks number our bytes (or the peer's): relative like seq and ack unless --absolute. The
// acked side's ISN is ack - relative_ack, known once the ack is relative (never 0 after a SYN).
std::string options_short(const Options& opts, const tcpkit::TrackedSegment& s) {
  const bool relative = !opts.absolute && (s.flags & tcpkit::tcp_flag::ack) && s.relative_ack != 0;
  const tcpkit::TcpOptions& o = s.options;
  const std::string text =
      o.to_string(tcpkit::OptionText::brief, relative ? std::optional<uint32_t>(s.ack - s.relative_ack) : std::nullopt);
  return text.empty() ? "-" : text;
}

std::string note(const tcpkit::TraceEvent& e) {
  const tcpkit::TrackedSegment& s = e.segment;
  if (e.cleanup_reset) return "ours at the end: tcpprobe leaves nothing to retransmit";
  std::string n;
  if (s.retransmission) n = s.direction == tcpkit::Direction::inbound ? "peer retransmission" : "retransmission";
  if (s.duplicate) n = "duplicate (an identical copy)";
  if (s.answers_rejected) n = "our answer to a rejected segment";
  if (s.foreign_syn) n = "a SYN at another ISN (a SYN proxy's, or another connection's)";
  if (s.duplicate_ack) n += n.empty() ? "duplicate ACK" : ", duplicate ACK";
  if (s.window_probe) n += n.empty() ? "" : ", ";
  if (s.window_probe) n += s.zero_window ? "zero-window probe" : "keepalive";
  if (s.out_of_order) n += n.empty() ? "out of order" : ", out of order";
  if (s.after_gap) n += n.empty() ? "after a gap" : ", after a gap";
  return n;
}

// "?" when the kernel could not be asked; a trailing '*' when the state is inferred.
std::string our_state_text(const tcpkit::TraceEvent& e) {
  if (!e.local_state_read) return "?";
  return std::string(tcpkit::state_name(e.local_state)) + (e.local_state_inferred ? "*" : "");
}

std::string duration_text(int64_t ns) { return format_fixed(double(ns) / 1e6, 3) + " ms"; }

Record segment_record(const Options& o, const TargetInfo& info, const tcpkit::TraceEvent& e, size_t index,
                      int64_t start_ns, int64_t previous_ns) {
  const auto& s = e.segment;
  Record r;
  r["type"] = "segment";
  r["target"] = info.target;
  r["index"] = index;
  r["time_ms"] = ms(s.time_ns - start_ns);
  r["delta_ms"] = ms(s.time_ns - previous_ns);
  r["direction"] = s.direction == tcpkit::Direction::outbound ? "out" : "in";
  r["flags"] = tcpkit::flags_compact(s.flags);
  r["flag_names"] = tcpkit::flags_names(s.flags);
  r["seq"] = o.absolute ? s.seq : s.relative_seq;
  r["ack"] = (s.flags & tcpkit::tcp_flag::ack) ? (o.absolute ? s.ack : s.relative_ack) : 0;
  r["absolute_seq"] = s.seq;
  r["absolute_ack"] = s.ack;
  r["len"] = s.payload_length;
  r["window"] = s.window;
  r["scaled_window"] = s.scaled_window;
  r["options"] = options_short(o, s);
  r["ttl"] = s.ttl;
  r["our_state"] = e.local_state_read ? std::string(tcpkit::state_name(e.local_state)) : std::string();
  r["our_state_source"] = e.local_state_inferred ? "inferred" : "kernel";
  // null: an unanswered SYN tells nothing of the peer (settle_peer_states).
  r["peer_state"] = e.peer_state_unknown ? Record(nullptr) : Record(tcpkit::state_name(s.remote_state_inferred));
  r["peer_state_source"] = "inferred";
  r["retransmission"] = s.retransmission;
  r["duplicate_ack"] = s.duplicate_ack;
  r["window_probe"] = s.window_probe ? Record(s.zero_window ? "zero window" : "keepalive") : Record(nullptr);
  r["out_of_order"] = s.out_of_order;
  r["after_gap"] = s.after_gap;
  r["duplicate"] = s.duplicate;
  r["answers_rejected"] = s.answers_rejected;
  r["cleanup_reset"] = e.cleanup_reset;
  r["foreign_syn"] = s.foreign_syn;
  r["timestamp_source"] = tcpkit::to_string(s.timestamps);
  return r;
}

Record summary_record(const Options& o, const TargetInfo& info, const tcpkit::TraceResult& t, const std::optional<tcpkit::AckCheckAnswer>& ack) {
  Record r;
  r["type"] = "trace_summary";
  r["target"] = info.target;
  r["local"] = t.tuple.local.to_string_with_port(t.tuple.local_port);
  r["remote"] = t.tuple.remote.to_string_with_port(t.tuple.remote_port);
  r["interface"] = t.interface;
  r["outcome"] = t.outcome;
  r["close_kind"] = t.close_kind;
  if (t.icmp) {
    r["icmp_type"] = t.icmp->type;
    r["icmp_code"] = t.icmp->code;
    r["icmp"] = t.icmp->text;
    if (t.icmp->from) r["icmp_from"] = t.icmp->from->to_string();
  }
  r["segments"] = t.events.size();
  if (t.syn_to_synack_ns) r["syn_to_synack_ms"] = ms(*t.syn_to_synack_ns);
  if (t.syn_to_established_ns) r["syn_to_established_ms"] = ms(*t.syn_to_established_ns);
  if (t.close_ns) r["close_ms"] = ms(*t.close_ns);
  if (t.unfinished_close_ns) r["unfinished_close_ms"] = ms(*t.unfinished_close_ns);
  if (t.time_wait_left_ms) r["time_wait_left_ms"] = *t.time_wait_left_ms;
  if (t.own_delay_ns) r["own_delay_ms"] = ms(*t.own_delay_ns);
  if (t.own_close_delay_ns) r["own_close_delay_ms"] = ms(*t.own_close_delay_ns);
  Record states = Record::array();
  for (const auto& span : t.local_states) {
    Record one;
    one["state"] = std::string(tcpkit::state_name(span.state));
    if (span.end_ns) one["duration_ms"] = ms(*span.end_ns - span.start_ns);
    states.push_back(one);
  }
  r["our_states"] = states;
  r["bytes_sent"] = t.bytes_sent;
  r["bytes_acked"] = t.bytes_acked;
  r["bytes_received"] = t.bytes_received;
  r["duplicates"] = t.duplicates;
  r["rejected"] = t.rejected.total();
  r["rejected_by"] = tcpkit::rejected_by_record(t.rejected);
  r["bad_checksum"] = t.rejected[tcpkit::RejectReason::bad_checksum];
  Record icmp_errors = Record::array();
  const int64_t start = t.events.empty() ? 0 : t.events.front().segment.time_ns;
  for (const auto& e : t.icmp_errors) {
    Record one;
    one["time_ms"] = ms(e.time_ns - start);
    one["from"] = e.from.to_string();
    one["type"] = e.type;
    one["code"] = e.code;
    one["text"] = tcpkit::icmp_description(e.v6, e.type, e.code);
    if (e.mtu) one["mtu"] = *e.mtu;
    if (const auto seq = o.absolute ? e.raw_seq : e.seq) one["seq"] = *seq;  // relative unless --absolute, as segments'
    if (e.raw_seq) one["absolute_seq"] = *e.raw_seq;
    icmp_errors.push_back(one);
  }
  r["icmp_errors"] = icmp_errors;
  r["notes"] = t.notes;
  r["interrupted"] = t.outcome == "interrupted";
  r["ack_check"] = ack ? Record(tcpkit::to_string(ack->kind)) : Record(nullptr);
  if (ack && ack->kind == tcpkit::AckCheck::icmp) r["ack_check_icmp"] = ack->icmp;
  return r;
}

void write_records(const Options& o, const TargetInfo& info, const tcpkit::TraceResult& t, int64_t start,
                   const std::optional<tcpkit::AckCheckAnswer>& ack) {
  tcpkit::JsonLinesWriter json(stdout);
  tcpkit::CsvWriter csv(stdout, kCsvColumns);
  auto write = [&](const Record& r) { o.format == tcpkit::Format::json ? json.write(r) : csv.write(r); };
  int64_t previous = start;
  for (size_t i = 0; i < t.events.size() && !o.quiet; ++i) {
    write(segment_record(o, info, t.events[i], i + 1, start, previous));
    previous = t.events[i].segment.time_ns;
  }
  write(summary_record(o, info, t, ack));
}

std::string segment_table(const Options& o, const tcpkit::TraceResult& t, int64_t start) {
  tcpkit::TextTable table({"#", "time ms", "+ms", "dir", "flags", o.absolute ? "seq" : "seq(rel)",
                           o.absolute ? "ack" : "ack(rel)", "len", "win", "options", "our state", "peer state*", "note"});
  int64_t previous = start;
  for (size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    const auto& s = e.segment;
    const bool has_ack = s.flags & tcpkit::tcp_flag::ack;
    table.add_row({std::to_string(i + 1), format_fixed(double(s.time_ns - start) / 1e6, 3),
                   format_fixed(double(s.time_ns - previous) / 1e6, 3),
                   s.direction == tcpkit::Direction::outbound ? "->" : "<-", tcpkit::flags_compact(s.flags),
                   std::to_string(o.absolute ? s.seq : s.relative_seq),
                   has_ack ? std::to_string(o.absolute ? s.ack : s.relative_ack) : "-", std::to_string(s.payload_length),
                   std::to_string(s.scaled_window), options_short(o, s), our_state_text(e),
                   e.peer_state_unknown ? "?" : std::string(tcpkit::state_name(s.remote_state_inferred)), note(e)});
    previous = s.time_ns;
  }
  return table.render() +
         "(-> we sent, <- we received; our state is read from the kernel after each segment; "
         "* inferred from RFC 9293: always the peer's, ours when the next segment came before the kernel answered)\n";
}

std::string states_text(const tcpkit::TraceResult& t) {
  if (t.local_states.empty()) return "";
  std::string out = "our states:";
  for (const auto& span : t.local_states) {
    out += " " + std::string(tcpkit::state_name(span.state));
    if (span.end_ns) out += " " + duration_text(*span.end_ns - span.start_ns);
    else if (span.state == tcpkit::TcpState::time_wait && t.time_wait_left_ms)
      out += " (" + format_fixed(double(*t.time_wait_left_ms) / 1000.0, 1) + " s left on the kernel's timer)";
    out += ",";
  }
  out.back() = '\n';
  return out;
}

std::string summary_text(const TargetInfo& info, const tcpkit::TraceResult& t, const std::optional<tcpkit::AckCheckAnswer>& ack) {
  std::string out = "\n--- " + info.target + " trace summary ---\n";
  // "outcome: refused", not "refused, refused": a connect() that failed has no close of its own.
  out += "outcome: " + t.outcome + (t.close_kind.empty() || t.close_kind == t.outcome ? "" : ", " + t.close_kind) + "\n";
  if (t.syn_to_synack_ns) {
    out += "handshake: SYN -> SYN/ACK " + duration_text(*t.syn_to_synack_ns);
    if (t.syn_to_established_ns) out += ", SYN -> ESTABLISHED " + duration_text(*t.syn_to_established_ns);
    out += "\n";
  }
  if (t.close_ns) out += "close: " + duration_text(*t.close_ns) + " from the first FIN/RST to the last segment\n";
  if (t.unfinished_close_ns)
    out += "close: not finished (one FIN only); the last segment came " + duration_text(*t.unfinished_close_ns) +
           " after the first FIN\n";
  if (t.own_delay_ns)
    out += "tcpprobe's own delay from the handshake to its first data/FIN/RST: " + duration_text(*t.own_delay_ns) +
           " (part of ESTABLISHED)\n";
  if (t.own_close_delay_ns)
    out += "tcpprobe's own delay from the peer's FIN to its FIN: " + duration_text(*t.own_close_delay_ns) +
           " (CLOSE_WAIT, part of the close)\n";
  out += states_text(t);
  out += "bytes: sent " + std::to_string(t.bytes_sent) +
         (t.bytes_acked < t.bytes_sent ? " (acknowledged " + std::to_string(t.bytes_acked) + ")" : "") + ", received " +
         std::to_string(t.bytes_received) + "\n";
  if (t.duplicates || t.rejected.total()) {
    std::string extra = t.duplicates ? tcpkit::cli::count_text(t.duplicates, "duplicate") + " (identical copies, not acted on)" : "";
    if (t.rejected.total())
      extra += (extra.empty() ? "" : ", ") + tcpkit::rejected_text(t.rejected) + " (not shown: never the peer's)";
    out += "also seen: " + extra + "\n";
  }
  for (const auto& n : t.notes) out += "note: " + n + "\n";
  return out + ack_check_text(info.port, ack);
}

}  // namespace

void print_trace(const Options& o, const TargetInfo& info, const tcpkit::TraceResult& t,
                 const std::optional<tcpkit::AckCheckAnswer>& ack) {
  const int64_t start = t.events.empty() ? 0 : t.events.front().segment.time_ns;
  if (o.format != tcpkit::Format::text) {
    write_records(o, info, t, start, ack);
    return;
  }
  std::string out = "TRACE " + info.target + ": " + t.tuple.to_string() + " on " + t.interface + "\n";
  if (!o.quiet) out += segment_table(o, t, start);
  out += summary_text(info, t, ack);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace tcpprobe
