#include "tcpscan/scan_report.hpp"

#include <algorithm>
#include <cctype>

#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpscan {

using tcpkit::PortState;
using tcpkit::Record;

namespace {
const std::vector<std::string> kResultColumns = {"host", "port", "state", "reason", "ttl", "icmp_type", "icmp_code"};
const std::vector<std::string> kProbeColumns = {"n", "src", "sport", "dst", "dport", "flags", "seq", "ack", "bytes"};

void write_json(const Record& r) {
  const std::string line = r.dump(-1, ' ', false, Record::error_handler_t::replace);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

std::string plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// "source port 61000", or "source ports 61000-61002 (one per round)".
std::string source_ports_text(const RunFacts& f) {
  if (f.source_port == f.last_source_port) return "source port " + std::to_string(f.source_port);
  return "source ports " + std::to_string(f.source_port) + "-" + std::to_string(f.last_source_port) +
         " (one per round)";
}

Record source_ports_list(const RunFacts& f) {
  Record list = Record::array();
  for (unsigned p = f.source_port; p <= f.last_source_port; ++p) list.push_back(p);
  return list;
}

// "Open|filtered" for the grepable field names.
std::string capitalised(const char* s) {
  std::string out = s;
  if (!out.empty()) out[0] = char(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}
}  // namespace

Report::Report(const Options& options, tcpkit::ProbeStyle style) : options_(options), style_(style) {}

bool Report::shown(const tcpkit::ScanResult& r) const {
  return !options_.open_only || r.verdict.state == tcpkit::positive_state(style_);
}

std::string Report::reason_text(const tcpkit::ScanResult& r) const {
  std::string out = tcpkit::to_string(r.verdict.reason);
  if (r.verdict.reason == tcpkit::Reason::icmp_unreachable)
    out += " type=" + std::to_string(r.verdict.icmp_type) + " code=" + std::to_string(r.verdict.icmp_code) + " (" +
           tcpkit::icmp_description(r.verdict.icmp_v6, r.verdict.icmp_type, r.verdict.icmp_code) + ")";
  if (r.ttl) out += " ttl=" + std::to_string(r.ttl);
  return out;
}

void Report::result(const tcpkit::ScanResult& r) {
  if (!shown(r)) return;
  const bool has_reply = r.verdict.reason != tcpkit::Reason::no_response;
  const bool icmp = r.verdict.reason == tcpkit::Reason::icmp_unreachable;
  switch (options_.form) {
    case OutputForm::text: {
      std::string line = r.address.to_string() + " " + std::to_string(r.port) + "/tcp " + tcpkit::to_string(r.verdict.state);
      if (options_.reason) line += " " + reason_text(r);
      line += '\n';
      std::fputs(line.c_str(), stdout);
      break;
    }
    case OutputForm::json:
    case OutputForm::csv: {
      Record rec;
      rec["type"] = "port";
      rec["host"] = r.address.to_string();
      rec["port"] = r.port;
      rec["state"] = tcpkit::to_string(r.verdict.state);
      rec["reason"] = tcpkit::to_string(r.verdict.reason);
      if (has_reply) rec["ttl"] = r.ttl;
      if (icmp) {
        rec["icmp_type"] = r.verdict.icmp_type;
        rec["icmp_code"] = r.verdict.icmp_code;
        rec["icmp"] = tcpkit::icmp_description(r.verdict.icmp_v6, r.verdict.icmp_type, r.verdict.icmp_code);
      }
      if (options_.form == OutputForm::json) {
        write_json(rec);
      } else {
        if (!csv_) csv_.emplace(stdout, kResultColumns);
        csv_->write(rec);
      }
      break;
    }
    case OutputForm::grepable:
      hosts_[r.address][int(r.verdict.state)].push_back(r.port);
      break;
  }
}

void Report::flush() { std::fflush(stdout); }

void Report::summary(const tcpkit::ScanSummary& s, const RunFacts& facts) {
  if (options_.form == OutputForm::grepable) {
    for (auto& [host, states] : hosts_) {
      std::string line = "Host: " + host.to_string();
      for (auto& [state, ports] : states) {
        std::sort(ports.begin(), ports.end());
        line += "\t" + capitalised(tcpkit::to_string(PortState(state))) + ": " + tcpkit::compress_ports(ports);
      }
      std::puts(line.c_str());
    }
  }
  const std::string shard = std::to_string(facts.shard.index) + "/" + std::to_string(facts.shard.count);
  if (options_.form == OutputForm::json) {
    Record rec;
    rec["type"] = "summary";
    rec["hosts"] = facts.hosts;
    rec["ports"] = facts.ports;
    rec["probes"] = s.planned;
    Record states = Record::object();
    for (int i = 0; i < tcpkit::kPortStateCount; ++i) states[tcpkit::to_string(PortState(i))] = s.states[size_t(i)];
    rec["states"] = states;
    rec["duration_ms"] = s.duration_s * 1000.0;
    rec["sent"] = s.sent;
    rec["send_errors"] = s.send_errors;
    rec["received"] = s.received;
    rec["replies"] = s.replies;
    rec["bad_cookie"] = s.bad_cookie;
    rec["bad_checksum"] = s.bad_checksum;
    rec["unsolicited"] = s.unsolicited;
    rec["duplicates"] = s.duplicates;
    rec["resets_sent"] = s.resets_sent;
    rec["kernel_drops"] = s.kernel_drops;
    rec["rounds"] = s.rounds;
    rec["rate_requested"] = s.requested_rate;
    rec["rate_achieved"] = s.achieved_rate;
    // Per round sent: its rate ceiling (lower after drops), probes, and first answers.
    Record rates = Record::array(), sent = Record::array(), answers = Record::array();
    for (const auto& r : s.rounds_tally) {
      rates.push_back(r.rate);
      sent.push_back(r.sent);
      answers.push_back(r.answers);
    }
    rec["rate_rounds"] = rates;
    rec["sent_rounds"] = sent;
    rec["answers_rounds"] = answers;
    if (s.suggested_rate > 0) rec["rate_suggested"] = s.suggested_rate;
    rec["max_rtt_us"] = s.max_rtt_us;
    rec["flags"] = tcpkit::flags_compact(facts.flags);
    rec["seed"] = facts.seed;
    rec["shard"] = shard;
    rec["source_port"] = facts.source_port;  // round 1's
    rec["source_ports"] = source_ports_list(facts);
    rec["interrupted"] = s.interrupted;
    rec["degraded"] = s.degraded;
    rec["degraded_reasons"] = s.degraded_reasons;
    write_json(rec);
    flush();
    return;
  }
  std::string counts;
  for (int i = 0; i < tcpkit::kPortStateCount; ++i) {
    if (s.states[size_t(i)] == 0 && PortState(i) != tcpkit::positive_state(style_)) continue;
    counts += (counts.empty() ? "" : ", ") + std::to_string(s.states[size_t(i)]) + " " + tcpkit::to_string(PortState(i));
  }
  // Rounds that ran slower after drops say so.
  std::string slowed;
  for (size_t r = 1; r < s.rounds_tally.size(); ++r)
    if (s.rounds_tally[r].rate < s.requested_rate)
      slowed += (slowed.empty() ? ", rounds at " : ", ") + std::to_string(uint64_t(s.rounds_tally[r].rate));
  if (!slowed.empty()) slowed += "/s after drops";
  char line1[512], line2[640];
  std::snprintf(line1, sizeof line1, "# tcpscan %s: %s x %s in %.3f s: %s\n", s.interrupted ? "interrupted" : "done",
                plural(facts.hosts, "host").c_str(), plural(facts.ports, "port").c_str(), s.duration_s, counts.c_str());
  std::snprintf(line2, sizeof line2,
                "# sent %llu probes (%d round%s, %.0f/s of %.0f/s asked%s), received %llu: %llu replies, "
                "%llu with a bad cookie, %llu unsolicited, %llu duplicates; %llu resets sent\n",
                (unsigned long long)s.sent, s.rounds, s.rounds == 1 ? "" : "s", s.achieved_rate, s.requested_rate, slowed.c_str(),
                (unsigned long long)s.received, (unsigned long long)s.replies, (unsigned long long)s.bad_cookie,
                (unsigned long long)s.unsolicited, (unsigned long long)s.duplicates,
                (unsigned long long)s.resets_sent);
  std::string degraded = "not degraded";
  if (s.degraded) {
    degraded = "DEGRADED:";
    for (const auto& r : s.degraded_reasons) degraded += " " + r + ";";
    if (s.suggested_rate > 0) degraded += " try --rate " + std::to_string(uint64_t(s.suggested_rate));
  }
  // The reasons can be long: no fixed buffer for this line.
  const std::string line3 = "# flags " + tcpkit::flags_compact(facts.flags) + ", seed " + std::to_string(facts.seed) +
                            ", shard " + shard + ", " + source_ports_text(facts) + "; " + degraded + "\n";
  // CSV keeps stdout a clean table: its summary goes to stderr.
  std::FILE* out = options_.form == OutputForm::csv ? stderr : stdout;
  std::fputs(line1, out);
  std::fputs(line2, out);
  std::fputs(line3.c_str(), out);
  flush();
}

void Report::probe(uint64_t n, const tcpkit::IpAddress& source, const tcpkit::IpAddress& target, uint16_t port,
                   const tcpkit::ProbeBytes& bytes) {
  const uint16_t sport = bytes.sport;
  const std::string flags = tcpkit::flags_compact(bytes.numbers.flags);
  if (options_.form == OutputForm::json || options_.form == OutputForm::csv) {
    Record rec;
    rec["type"] = "probe";
    rec["n"] = n;
    rec["src"] = source.to_string();
    rec["sport"] = sport;
    rec["dst"] = target.to_string();
    rec["dport"] = port;
    rec["flags"] = flags;
    rec["seq"] = bytes.numbers.seq;
    rec["ack"] = bytes.numbers.ack;
    rec["bytes"] = bytes.packet.size();
    if (options_.form == OutputForm::json) {
      write_json(rec);
    } else {
      if (!csv_) csv_.emplace(stdout, kProbeColumns);
      csv_->write(rec);
    }
    return;
  }
  std::string line = source.to_string_with_port(sport) + " > " + target.to_string_with_port(port) + " " + flags +
                     " seq " + std::to_string(bytes.numbers.seq);
  if (bytes.numbers.flags & tcpkit::tcp_flag::ack) line += " ack " + std::to_string(bytes.numbers.ack);
  line += " length " + std::to_string(bytes.packet.size()) + "\n";
  std::fputs(line.c_str(), stdout);
}

void Report::dry_run_summary(uint64_t probes, const RunFacts& facts) {
  const std::string shard = std::to_string(facts.shard.index) + "/" + std::to_string(facts.shard.count);
  if (options_.form == OutputForm::json) {
    Record rec;
    rec["type"] = "summary";
    rec["dry_run"] = true;
    rec["hosts"] = facts.hosts;
    rec["ports"] = facts.ports;
    rec["probes"] = probes;
    rec["flags"] = tcpkit::flags_compact(facts.flags);
    rec["seed"] = facts.seed;
    rec["shard"] = shard;
    rec["source_port"] = facts.source_port;  // round 1's, the one shown
    rec["source_ports"] = source_ports_list(facts);
    write_json(rec);
  } else {
    std::FILE* out = options_.form == OutputForm::csv ? stderr : stdout;
    std::fprintf(out, "# dry run: %llu probes (%s x %s), seed %llu, shard %s, %s; nothing was sent\n",
                 (unsigned long long)probes, plural(facts.hosts, "host").c_str(), plural(facts.ports, "port").c_str(),
                 (unsigned long long)facts.seed, shard.c_str(), source_ports_text(facts).c_str());
  }
  flush();
}

}  // namespace tcpscan
