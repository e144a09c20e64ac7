#include "tcpstray/stray_report.hpp"

#include <algorithm>
#include <cstdio>

#include "common/wording.hpp"
#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpstray {

using tcpkit::Record;

namespace {

// Text output fits an 80-column terminal.
constexpr size_t kWidth = tcpkit::cli::kTerminalColumns;
constexpr int64_t kNsPerUs = 1000;

const std::vector<std::string> kCsvColumns = {
    "type", "target", "address", "port", "case", "group", "sent", "expected", "rfc", "observed", "verdict", "reason",
    "rate_limit_possible", "rejected", "duplicates", "local_port", "cases", "conformant", "deviation",
    "inconclusive", "capture_drops", "bad_checksum",
    "interrupted"};

Record segment_record(const tcpkit::StraySegment& s) {
  Record r;
  r["direction"] = s.outbound ? "out" : "in";
  r["crafted"] = s.crafted;
  r["time_us"] = s.time_ns / kNsPerUs;
  if (s.icmp) {
    r["icmp"] = s.icmp_text;
    return r;
  }
  r["flags"] = tcpkit::flags_compact(s.flags);
  r["seq"] = s.seq;
  r["ack"] = s.ack;
  r["window"] = s.window;
  r["length"] = s.payload_length;
  if (!s.outbound) {
    r["kind"] = tcpkit::to_string(tcpkit::classify_segment(s.flags, s.payload_length));
    r["peer_own"] = s.peer_own;  // the peer's own data, FIN or keepalive: shown, never taken for the answer
    if (s.keepalive) r[s.window_probe ? "window_probe" : "keepalive"] = true;
    if (s.stale) r["stale"] = true;  // sent before our segment left: held back on the way
  }
  return r;
}

std::string segment_line(const tcpkit::StraySegment& s, int64_t start_ns) {
  const std::string when = tcpkit::format_signed_fixed(double(s.time_ns - start_ns) / 1e6, 3, 9) + " ms";
  const char* who = s.outbound ? (s.crafted ? "-> crafted " : "-> kernel  ") : s.peer_own ? "<- peer own" : "<- peer    ";
  return std::string("    ") + when + "  " + who + "  " + tcpkit::describe_segment(s) + "\n";
}

}  // namespace

Reporter::Reporter(tcpkit::Format format, bool verbose)
    : format_(format), verbose_(verbose), json_(stdout), csv_(stdout, kCsvColumns) {}

namespace {
// The table's rows go out as each group ends, as the JSON objects do (found: nothing shown
// until the whole run ended), so its columns are as wide as the catalogue needs, not the
// rows: CASE and SENT by the longest there, OBSERVED by the usual answers ("silence then R"),
// a longer one pushing its verdict right.
constexpr size_t kObservedWidth = 16;

std::string table_row(const std::string& name, const std::string& sent, const std::string& observed,
                      const std::string& verdict) {
  auto widest = [](auto width_of) {
    size_t w = 4;  // the header's
    for (const auto& c : tcpkit::stray_catalogue()) w = std::max(w, width_of(c));
    return w;
  };
  static const size_t name_width = widest([](const auto& c) { return std::string_view(c.name).size(); });
  static const size_t sent_width = widest([](const auto& c) { return tcpkit::sent_flags(c.sent).size(); });
  std::string line = tcpkit::pad_cells(name, name_width + 2) + tcpkit::pad_cells(sent, sent_width + 2) +
                     tcpkit::pad_cells(observed, kObservedWidth + 2);
  if (!line.empty() && line.back() != ' ') line += ' ';
  line += verdict;
  return line + "\n";
}
}  // namespace

void Reporter::header(const RunInfo& info) {
  if (format_ != tcpkit::Format::text) return;
  const std::string line = "TCPSTRAY " + info.target + " (" + info.address.to_string_with_port(info.port) +
                           "), closed port " + std::to_string(info.closed_port) + ", from " + info.source.to_string() +
                           " " + info.interface +
                           (info.guard.empty() ? "" : ", kernel-RST guard: nftables table inet " + info.guard);
  std::fputs(tcpkit::wrap_cells(line, kWidth, 2).c_str(), stdout);
  std::fflush(stdout);
}

Record Reporter::record(const RunInfo& info, const tcpkit::StrayRun& run, const tcpkit::StrayJudgement& j) const {
  const auto& c = tcpkit::stray_case_info(run.id);
  Record r;
  r["type"] = "case";
  r["target"] = info.target;
  r["address"] = info.address.to_string();
  r["port"] = c.group == tcpkit::StrayGroup::closed ? info.closed_port : info.port;
  r["case"] = c.name;
  r["group"] = tcpkit::stray_group_name(c.group);
  r["purpose"] = c.purpose;
  r["sent"] = run.sent.empty() ? std::string(c.sent) : run.sent;
  r["expected"] = c.expected;
  r["rfc"] = c.rfc;
  r["observed"] = j.observed;
  r["observed_flags"] = j.observed_flags;
  r["verdict"] = tcpkit::to_string(j.verdict);
  r["reason"] = j.reason;
  r["rate_limit_possible"] = j.rate_limit_possible;
  r["rejected"] = run.rejected.total();
  r["duplicates"] = run.seen.duplicates;
  if (run.local_port) r["local_port"] = run.local_port;
  r["primed"] = run.primed;
  if (verbose_) {
    Record segments = Record::array();
    for (const auto& s : run.segments) segments.push_back(segment_record(s));
    r["segments"] = segments;
  }
  return r;
}

void Reporter::result(const RunInfo& info, const tcpkit::StrayRun& run, const tcpkit::StrayJudgement& j) {
  const auto& c = tcpkit::stray_case_info(run.id);
  if (format_ == tcpkit::Format::json) return json_.write(record(info, run, j));
  if (format_ == tcpkit::Format::csv) return csv_.write(record(info, run, j));
  std::string verdict(tcpkit::to_string(j.verdict));
  if (j.rate_limit_possible) verdict += " (rate limit?)";
  const std::string sent = run.sent.empty() ? std::string(c.sent) : run.sent;
  // The table keeps to flags so that it fits 80 columns; the notes below it give the rest.
  if (!table_started_) std::fputs(table_row("CASE", "SENT", "OBSERVED", "VERDICT").c_str(), stdout);
  table_started_ = true;
  std::fputs(table_row(std::string(c.name), tcpkit::sent_flags(sent), j.observed_flags, verdict).c_str(), stdout);
  std::fflush(stdout);
  if (j.verdict != tcpkit::StrayVerdict::conformant || verbose_) {
    auto note = [&](const std::string& text) { notes_ += tcpkit::wrap_cells(text, kWidth, 4); };
    note(std::string(c.name) + ": " + std::string(tcpkit::to_string(j.verdict)) + ": " + j.reason + " [" +
         std::string(c.rfc) + "]");
    note("    sent: " + sent);
    note("    expected: " + std::string(c.expected));
    note("    observed: " + j.observed);
    if (j.rate_limit_possible)
      note("    the expected ACK is one stacks rate-limit; this case used a fresh connection, so only a host-wide "
           "limit (Linux: net.ipv4.tcp_challenge_ack_limit) or a middlebox could have swallowed it");
  }
  if (verbose_) {
    const int64_t start = run.segments.empty() ? 0 : run.segments.front().time_ns;
    for (const auto& s : run.segments) notes_ += segment_line(s, start);
  }
}

void Reporter::summary(const RunInfo& info, const Tally& t) {
  if (format_ == tcpkit::Format::text) {
    if (!notes_.empty()) std::printf("\n%s", notes_.c_str());
    std::printf("\n--- %s tcpstray summary ---\n%s: %d conformant, %s, %d inconclusive%s\n", info.target.c_str(),
                tcpkit::cli::count_text(t.cases, "case").c_str(), t.conformant,
                tcpkit::cli::count_text(t.deviation, "deviation").c_str(), t.inconclusive,
                t.interrupted ? " (interrupted)" : "");
    // What came back but answered nothing, only when there was any.
    std::string extra = t.duplicates ? tcpkit::cli::count_text(t.duplicates, "duplicate") : "";
    if (t.rejected.total()) extra += (extra.empty() ? "" : ", ") + tcpkit::rejected_text(t.rejected);
    if (!extra.empty()) std::printf("not answers: %s\n", extra.c_str());
    std::fflush(stdout);
    return;
  }
  Record r;
  r["type"] = "summary";
  r["target"] = info.target;
  r["address"] = info.address.to_string();
  r["port"] = info.port;
  r["closed_port"] = info.closed_port;
  r["cases"] = t.cases;
  r["conformant"] = t.conformant;
  r["deviation"] = t.deviation;
  r["inconclusive"] = t.inconclusive;
  r["rate_limit_possible"] = t.rate_limit_possible;
  r["capture_drops"] = t.capture_drops;
  r["bad_checksum"] = t.rejected[tcpkit::RejectReason::bad_checksum];
  r["rejected"] = t.rejected.total();
  r["rejected_by"] = tcpkit::rejected_by_record(t.rejected);
  r["duplicates"] = t.duplicates;
  r["interrupted"] = t.interrupted;
  if (!info.guard.empty()) r["guard_table"] = info.guard;
  if (format_ == tcpkit::Format::json) json_.write(r);
  else csv_.write(r);
}

void print_catalogue(tcpkit::Format format) {
  const std::vector<std::string> columns = {"type", "case", "group", "purpose", "sent", "expected", "rfc"};
  tcpkit::JsonLinesWriter json(stdout);
  tcpkit::CsvWriter csv(stdout, columns);
  tcpkit::TextTable table({"CASE", "GROUP", "SENT", "EXPECTED", "RFC"});
  std::string purposes;
  for (const auto& c : tcpkit::stray_catalogue()) {
    Record r;
    r["type"] = "catalogue";
    r["case"] = c.name;
    r["group"] = tcpkit::stray_group_name(c.group);
    r["purpose"] = c.purpose;
    r["sent"] = c.sent;
    r["expected"] = c.expected;
    r["rfc"] = c.rfc;
    if (format == tcpkit::Format::json) json.write(r);
    else if (format == tcpkit::Format::csv) csv.write(r);
    table.add_row({std::string(c.name), std::string(tcpkit::stray_group_name(c.group)), std::string(c.sent),
                   std::string(c.expected), std::string(c.rfc)});
    purposes += "  " + std::string(c.name) + ": " + std::string(c.purpose) + "\n";
  }
  if (format == tcpkit::Format::text) std::printf("%s\n%s", table.render().c_str(), purposes.c_str());
}

}  // namespace tcpstray
