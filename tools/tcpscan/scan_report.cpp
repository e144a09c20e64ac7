#include "tcpscan/scan_report.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/cli_common.hpp"
#include "tcpkit/scan/probe_kind.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpscan {

using tcpkit::PortState;
using tcpkit::Record;

namespace {
const std::vector<std::string> kResultColumns = {"host",      "port",      "state",    "reason",
                                                 "ttl",       "icmp_type", "icmp_code", "ack_check", "reason_ip"};
const std::vector<std::string> kProbeColumns = {"n", "src", "sport", "dst", "dport", "flags", "seq", "ack", "bytes"};

// The router or firewall on the way whose ICMP error this is, when known; none for the host's own.
std::optional<std::string> router_of(const tcpkit::Verdict& v) {
  if (v.icmp_from_target || v.icmp_sender.is_unspecified()) return std::nullopt;
  return v.icmp_sender.to_string();
}

// " from 10.0.0.1" after an ICMP error a router sent, else "".
std::string from_router_text(const tcpkit::Verdict& v) {
  const auto router = router_of(v);
  return router ? " from " + *router : "";
}

std::string json_line(const Record& r) { return r.dump(-1, ' ', false, Record::error_handler_t::replace) + "\n"; }

void write_json(const Record& r) { std::fputs(json_line(r).c_str(), stdout); }

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

PortDetail port_detail(const Options& o) {
  if ((o.form == OutputForm::text && !o.stream) || !o.xml_file.empty()) return PortDetail::full;
  return o.form == OutputForm::grepable ? PortDetail::states : PortDetail::counts;
}

}  // namespace

Report::Report(const Options& options, tcpkit::ProbeStyle style, uint64_t ports_per_host)
    : options_(options), style_(style),
      hosts_(ports_per_host, port_detail(options), options.assume_up, style == tcpkit::ProbeStyle::fin_like) {
  text_options_.positive = tcpkit::positive_state(style);
  text_options_.all = options.all;
  text_options_.open_only = options.open_only;
  text_options_.ports_per_host = ports_per_host;
}

bool Report::open_xml(const RunFacts& facts, std::string& error) {
  if (options_.xml_file.empty()) return true;
  if (options_.xml_file == "-") {
    xml_file_ = stdout;
  } else {
    xml_file_ = std::fopen(options_.xml_file.c_str(), "we");
    if (!xml_file_) {
      error = "cannot write the XML file '" + options_.xml_file + "': " + std::strerror(errno);
      return false;
    }
  }
  xml_ = std::make_unique<XmlReport>(xml_file_);
  XmlRun run;
  run.args = options_.command_line;
  run.scan_type = tcpkit::probe_kind_for(facts.flags).nmap_type;
  // Flags that are not exactly one of nmap's scan types are named, as nmap's --scanflags.
  using namespace tcpkit::tcp_flag;
  const uint8_t f = facts.flags;
  if (f != syn && f != ack && f != fin && f != 0 && f != (fin | psh | urg)) run.scan_flags = tcpkit::flags_compact(f);
  run.port_count = facts.ports;
  run.services = facts.services;
  xml_->begin(run);
  return true;
}

Report::~Report() {
  // Only when the run ended before xml_error(): nothing is left to report to.
  if (xml_file_ && xml_file_ != stdout) (void)std::fclose(xml_file_);
}

std::string Report::xml_error() {
  if (!xml_file_ || xml_file_ == stdout) return "";  // stdout's errors are guarded_main's
  errno = 0;
  bool ok = std::fflush(xml_file_) == 0 && !std::ferror(xml_file_);
  // Closed here, not in the destructor: close(2) may report the write too (NFS, quotas).
  ok = std::fclose(xml_file_) == 0 && ok;
  xml_file_ = nullptr;
  if (ok) return "";
  const int e = errno ? errno : xml_ ? xml_->write_errno() : 0;  // an earlier flush may have failed
  return "cannot write the XML file '" + options_.xml_file + "'" + (e ? std::string(": ") + std::strerror(e) : "");
}

bool Report::shown(tcpkit::PortState state) const {
  return !options_.open_only || state == tcpkit::positive_state(style_);
}

bool Report::shown(const Host& h) const {
  return !options_.open_only || h.states[size_t(tcpkit::positive_state(style_))] > 0;
}

bool Report::streams() const {
  return options_.form == OutputForm::json || options_.form == OutputForm::csv ||
         (options_.form == OutputForm::text && options_.stream);
}

void Report::write(const std::string& text) {
  const bool around = progress_ && progress_->enabled();
  if (around) progress_->clear();
  std::fputs(text.c_str(), stdout);
  if (around) {
    std::fflush(stdout);
    progress_->redraw();
  }
}

std::string Report::reason_text(const tcpkit::ScanResult& r) const {
  std::string out = std::string(tcpkit::to_string(r.verdict.reason)) + (r.verdict.zero_window ? " (win 0)" : "");
  if (r.verdict.reason == tcpkit::Reason::icmp_unreachable)
    out += " type=" + std::to_string(r.verdict.icmp_type) + " code=" + std::to_string(r.verdict.icmp_code) + " (" +
           tcpkit::icmp_description(r.verdict.icmp_v6, r.verdict.icmp_type, r.verdict.icmp_code) + ")" +
           from_router_text(r.verdict);
  if (r.ack != tcpkit::AckAnswer::unasked) {  // a silent port: its TTL is the ACK check's answer's
    const bool answered = r.ack == tcpkit::AckAnswer::reset || r.ack == tcpkit::AckAnswer::icmp;
    const std::string icmp =
        r.ack == tcpkit::AckAnswer::icmp ? " " + ack_icmp_text(r.verdict) + from_router_text(r.verdict) : "";
    const std::string ttl = answered && r.ttl ? " ttl=" + std::to_string(r.ttl) : "";
    return out + " (" + tcpkit::to_string(r.ack) + icmp + ttl + ")";
  }
  if (r.ttl) out += " ttl=" + std::to_string(r.ttl);
  return out;
}

void Report::port_line(const tcpkit::ScanResult& r) {
  if (!shown(r.verdict.state)) return;
  const bool has_reply = r.verdict.reason != tcpkit::Reason::no_response;
  const bool icmp = r.verdict.reason == tcpkit::Reason::icmp_unreachable;
  if (options_.form == OutputForm::text) {
    std::string line = r.address.to_string() + " " + std::to_string(r.port) + "/tcp " + tcpkit::to_string(r.verdict.state);
    if (options_.reason) line += " " + reason_text(r);
    write(line + "\n");
    return;
  }
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
    // A router or firewall on the way answered for the port (nmap's reason_ip); the host's own
    // ICMP error has none.
    if (const auto router = router_of(r.verdict)) rec["reason_ip"] = *router;
  }
  if (has_reply && r.rtt_ns > 0) rec["rtt_us"] = r.rtt_ns / 1000;
  if (r.verdict.zero_window) rec["zero_window"] = true;
  // What the ACK check drew for a silent port: "reset", "icmp" (named in ack_icmp) or "silence".
  if (r.ack == tcpkit::AckAnswer::reset) {
    rec["ack_check"] = "reset";
    rec["ack_ttl"] = r.ttl;
  }
  if (r.ack == tcpkit::AckAnswer::icmp) {
    rec["ack_check"] = "icmp";
    if (options_.form == OutputForm::json) {
      rec["ack_icmp"] = ack_icmp_text(r.verdict);
      if (const auto router = router_of(r.verdict)) rec["ack_reason_ip"] = *router;
    }
    rec["ack_ttl"] = r.ttl;
  }
  if (r.ack == tcpkit::AckAnswer::silence) rec["ack_check"] = "silence";
  if (options_.form == OutputForm::json) {
    write(json_line(rec));
  } else {
    const bool around = progress_ && progress_->enabled();
    if (around) progress_->clear();
    if (!csv_) csv_.emplace(stdout, kResultColumns);
    csv_->write(rec);
    if (around) progress_->redraw();
  }
}

void Report::result(const tcpkit::ScanResult& r) {
  // The engine gives unanswered ports only once every reply is in: the last results.
  if (r.verdict.reason == tcpkit::Reason::no_response) final_pass_ = true;
  if (r.verdict.zero_window) ++zero_window_open_;
  // Refused with an ICMP error, by the host's own firewall or a router (not "host unreachable"
  // from a router: nothing refused the port).
  if (r.verdict.reason == tcpkit::Reason::icmp_unreachable && !says_host_unreachable(r.verdict)) ++icmp_refused_;
  // A port without an answer, or with an ICMP host/net unreachable, on a host that has given
  // no other answer yet may belong to a host that is down (whose ports are not written):
  // streamed forms hold it until the host is complete.
  const Host* known = hosts_.find(r.address);
  const bool says_down = (r.verdict.reason == tcpkit::Reason::no_response && r.ack != tcpkit::AckAnswer::reset) ||
                         says_host_unreachable(r.verdict);
  const bool hold = streams() && says_down && !options_.assume_up &&
                    (!known || (known->replies == known->unreachable && known->ack_resets == 0));
  if (streams() && !hold) port_line(r);
  if (Host* done = hosts_.add(r, hold)) host_done(*done);
}

void Report::conflict(const tcpkit::ScanResult& r) {
  if (conflicts_.size() < kConflictsKept) conflicts_.push_back(r);
}

bool Report::host_answered(const tcpkit::IpAddress& address) {
  const Host* h = hosts_.find(address);
  return h && h->replies > h->unreachable;
}

uint64_t Report::syn_answers(const tcpkit::IpAddress& address) {
  const Host* h = hosts_.find(address);
  return h ? h->states[size_t(tcpkit::PortState::open)] + h->states[size_t(tcpkit::PortState::closed)] : 0;
}

void Report::count_host(const Host& h) {
  switch (h.status) {
    case HostStatus::up: ++up_; break;
    case HostStatus::down: ++down_; break;
    case HostStatus::unknown: ++unknown_; break;
  }
  if (h.status != HostStatus::down)
    for (size_t i = 0; i < reported_.size(); ++i) reported_[i] += h.states[i];
}

void Report::write_host_text(const Host& h) {
  if (options_.stream) {
    if (h.status == HostStatus::down && !options_.open_only)
      write(h.address.to_string() + " down or unreachable (" + h.why + ")\n");
  } else if (shown(h)) {
    // Hosts completed by the unanswered ports at the end come out in address order.
    if (final_pass_) {
      at_end_.emplace(h.address, host_text(h, text_options_, services_));
    } else {
      write((text_written_ ? "\n" : "") + host_text(h, text_options_, services_));
      text_written_ = true;
    }
  }
}

namespace {
Record host_record(const Host& h) {
  Record rec;
  rec["type"] = "host";
  rec["host"] = h.address.to_string();
  rec["status"] = h.status == HostStatus::up ? "up" : h.status == HostStatus::down ? "down" : "unknown";
  rec["reason"] = h.reason;
  if (!h.why.empty()) rec["why"] = h.why;
  // The router that spoke for a host not found up (nmap's reason_ip).
  if (const auto router = h.reason_ip(h.first); router && h.status != HostStatus::up) rec["reason_ip"] = router->to_string();
  rec["ports"] = h.results;
  rec["replies"] = h.replies;
  Record states = Record::object();
  for (int i = 0; i < tcpkit::kPortStateCount; ++i)
    if (h.states[size_t(i)] > 0 && h.status != HostStatus::down)
      states[tcpkit::to_string(PortState(i))] = h.states[size_t(i)];
  rec["states"] = states;
  if (h.first_rtt_ns > 0) rec["first_rtt_us"] = h.first_rtt_ns / 1000;
  return rec;
}
}  // namespace

void Report::host_done(Host& h) {
  const tcpkit::IpAddress address = h.address;  // h may move into grepable_ below
  count_host(h);
  // Held ports of a host that turned out up (it answered later, or ARP/ND): shown now.
  if (h.status != HostStatus::down)
    for (const auto& p : h.held) port_line(tcpkit::ScanResult{h.address, p.port, h.verdict(p), p.ttl, 0, 0, p.ack});
  h.held = {};
  // --open hides a host without a positive port from every form, as nmap does (XML included).
  if (xml_ && shown(h)) xml_->host(h, text_options_, services_);
  switch (options_.form) {
    case OutputForm::text:
      write_host_text(h);
      break;
    case OutputForm::json:
      if (shown(h)) write(json_line(host_record(h)));
      break;
    case OutputForm::csv:
      if (h.status == HostStatus::down && shown(h)) {
        Record rec;
        rec["host"] = h.address.to_string();
        rec["state"] = "down";
        rec["reason"] = h.reason;
        if (const auto router = h.reason_ip(h.first)) rec["reason_ip"] = router->to_string();
        if (!csv_) csv_.emplace(stdout, kResultColumns);
        csv_->write(rec);
      }
      break;
    case OutputForm::grepable:
      if (shown(h)) grepable_.emplace(h.address, std::move(h));
      break;
    case OutputForm::xml:
      break;
  }
  hosts_.forget(address);
}

void Report::flush() { std::fflush(stdout); }

// The hosts still open (the scan is over) and the text blocks kept for address order.
void Report::finish_hosts(uint64_t planned_hosts) {
  final_pass_ = true;
  for (Host* h : hosts_.unfinished()) host_done(*h);
  for (const auto& [address, text] : at_end_) {
    write((text_written_ ? "\n" : "") + text);
    text_written_ = true;
  }
  // Hosts never heard of in an interrupted scan are unknown too.
  const uint64_t seen = up_ + down_ + unknown_;
  if (planned_hosts > seen) unknown_ += planned_hosts - seen;
}

void Report::write_grepable() {
  for (auto& [host, h] : grepable_) {
    std::string line = "Host: " + host.to_string();
    if (h.status == HostStatus::down) {
      line += "\tStatus: Down (" + h.why + ")";
    } else {
      // The ports by state: kept so (PortDetail::states), or from the full records (with XML).
      for (const auto& p : h.ports) h.ports_by_state[p.state].push_back(p.port);
      for (size_t state = 0; state < h.ports_by_state.size(); ++state) {
        auto& ports = h.ports_by_state[state];
        if (ports.empty() || !shown(PortState(state))) continue;
        std::sort(ports.begin(), ports.end());
        line += "\t" + capitalised(tcpkit::to_string(PortState(state))) + ": " + tcpkit::compress_ports(ports);
      }
    }
    std::puts(line.c_str());
  }
}

namespace {
std::string shard_text(const RunFacts& facts) {
  return std::to_string(facts.shard.index) + "/" + std::to_string(facts.shard.count);
}

// Per round sent: its rate ceiling (lower after drops), probes, and first answers.
void add_rounds(Record& rec, const tcpkit::ScanSummary& s) {
  Record rates = Record::array(), sent = Record::array(), answers = Record::array();
  for (const auto& r : s.rounds_tally) {
    rates.push_back(r.rate);
    sent.push_back(r.sent);
    answers.push_back(r.answers);
  }
  rec["rate_rounds"] = rates;
  rec["sent_rounds"] = sent;
  rec["answers_rounds"] = answers;
}

// The engine's counters, as the JSON summary names them (field by field, like the other
// tools' summaries and socket records: alike in shape only, other structs and keys).
void add_traffic(Record& rec, const tcpkit::ScanSummary& s) {
  // To the microsecond: seconds times 1000 printed float noise (2018.7963429999995).
  rec["duration_ms"] = std::round(s.duration_s * 1e6) / 1e3;
  rec["sent"] = s.sent;
  rec["send_errors"] = s.send_errors;
  rec["received"] = s.received;
  rec["replies"] = s.replies;
  rec["bad_cookie"] = s.bad_cookie;
  rec["bad_checksum"] = s.bad_checksum;
  rec["unsolicited"] = s.unsolicited;
  rec["rejected"] = s.rejected.total();  // the three above, by why, in every tool's words
  rec["rejected_by"] = tcpkit::rejected_by_record(s.rejected);
  rec["duplicates"] = s.duplicates;
  rec["conflicting"] = s.conflicting;
  rec["resets_sent"] = s.resets_sent;
  rec["kernel_drops"] = s.kernel_drops;
  rec["rounds"] = s.rounds;
  rec["rate_requested"] = s.requested_rate;
  rec["rate_achieved"] = s.rate_measured ? Record(s.achieved_rate) : Record();  // null: too short a send to tell
  add_rounds(rec, s);
  if (s.suggested_rate > 0) rec["rate_suggested"] = s.suggested_rate;
  rec["max_rtt_us"] = s.max_rtt_us;
  rec["rtt_p99_us"] = s.rtt_p99_us;
  rec["reader_lag_p99_us"] = s.reader_lag_p99_us;
  Record waits = Record::array();
  for (const int64_t w : s.waits_us) waits.push_back(double(w) / 1000.0);
  rec["waits_ms"] = waits;
  rec["wait_source"] = tcpkit::to_string(s.wait_source);
  rec["networks_measured"] = s.networks_measured;
  if (!s.wait_network.empty()) {
    rec["wait_network"] = s.wait_network;
    rec["wait_network_p99_us"] = s.wait_network_p99_us;
  }
  rec["send_path"] = s.send_path;
  rec["send_threads"] = s.send_threads;
  rec["paused_for_receiver_ms"] = s.paused_for_receiver_ms;
  if (!s.send_path_why.empty()) rec["send_path_why"] = s.send_path_why;
}

std::string ms_text(int64_t us) {
  return us >= 10'000 ? with_commas(uint64_t(std::llround(double(us) / 1000.0)))
                      : tcpkit::format_fixed(double(us) / 1000.0, 1);
}

// Which network's round trips set the last wait, when more than one network answered:
// "; slowest network 10.1.2.0/24, p99 80 ms, of 2 measured".
std::string network_text(const tcpkit::ScanSummary& s) {
  if (s.wait_network.empty() || s.networks_measured < 2) return "";
  return "; slowest network " + s.wait_network + ", p99 " + ms_text(s.wait_network_p99_us) + " ms, of " +
         std::to_string(s.networks_measured) + " measured";
}

// The waits after the rounds and where they came from: "waits 5.2, 5.2 ms from the round trips
// (p99 0.3 ms; replies read 1.1 ms late)".
std::string waits_text(const tcpkit::ScanSummary& s) {
  if (s.waits_us.empty()) return "";
  std::string text = "; waits ";
  for (size_t i = 0; i < s.waits_us.size(); ++i) text += (i ? ", " : "") + ms_text(s.waits_us[i]);
  text += " ms";
  switch (s.wait_source) {
    case tcpkit::WaitSource::measured:
      return text + " from the round trips (p99 " + ms_text(s.rtt_p99_us) + " ms" + network_text(s) +
             "; replies read " + ms_text(s.reader_lag_p99_us) + " ms late)";
    case tcpkit::WaitSource::start: return text + " (no answer to time)";
    case tcpkit::WaitSource::forced: return text + " (--wait)";
  }
  return text;
}

// Rounds that ran slower after drops say so: ", rounds at 2,500/s after drops".
std::string slowed_text(const tcpkit::ScanSummary& s) {
  std::string slowed;
  for (size_t r = 1; r < s.rounds_tally.size(); ++r)
    if (s.rounds_tally[r].rate < s.requested_rate)
      slowed += (slowed.empty() ? ", rounds at " : ", ") + with_commas(uint64_t(s.rounds_tally[r].rate));
  if (!slowed.empty()) slowed += "/s after drops";
  return slowed;
}

std::string degraded_text(const tcpkit::ScanSummary& s) {
  if (!s.degraded) return "not degraded";
  std::string degraded = "DEGRADED:";
  for (const auto& r : s.degraded_reasons) degraded += " " + r + ";";
  if (s.suggested_rate > 0) degraded += " try --rate " + std::to_string(uint64_t(s.suggested_rate));
  return degraded;
}

// How the probes left: " as Ethernet frames", " as IP packets (interface lo is not Ethernet)".
std::string path_text(const tcpkit::ScanSummary& s) {
  const std::string how = s.send_path == "ip" ? " as IP packets" : s.send_path == "ethernet" ? " as Ethernet frames"
                          : s.send_path == "ethernet-bypass"                       ? " as Ethernet frames (qdisc bypassed)"
                                                                                   : " as " + s.send_path;
  return how + (s.send_path_why.empty() ? "" : " (" + s.send_path_why + ")") +
         (s.send_threads > 1 ? " from " + std::to_string(s.send_threads) + " threads" : "");
}

// Pauses of the send threads for a receiver half a ring behind: "; paused 369 ms for the receiver".
std::string paused_text(const tcpkit::ScanSummary& s) {
  if (s.paused_for_receiver_ms <= 0) return "";
  return "; paused " + ms_text(int64_t(s.paused_for_receiver_ms * 1000)) + " ms for the receiver";
}

// What the ACK check of the silent ports found, or why it did not run; "" when there was none.
// icmp_refused: ports of the scan whose SYNs drew an ICMP refusal, from the host or a router.
// Beside them, a silent port may be one more refusal that an ICMP rate limit swallowed (found:
// one rule refusing 100 ports, 6 refusals seen and 94 "a firewall that drops everything"; the
// same from the host's own firewall).
std::string ack_check_sentence(const AckCheckFacts& a, uint64_t icmp_refused) {
  if (!a.ran) return a.skipped.empty() ? "" : "no ACK check of the silent ports: " + a.skipped;
  const std::string asked = "ACK check of " + count_of(a.checked, "silent port") + " (" + count_of(a.sent, "ACK") + "): ";
  const std::string rest = a.skipped.empty() ? "" : "; " + a.skipped;
  // An ICMP error to an ACK: something refuses the port's segments, and its SYNs drew nothing:
  // dropped, or their refusals held back by an ICMP rate limit (found: a router refusing every
  // SYN, 1 error in 10 let through, read "drops the SYNs unanswered"); or, for "host
  // unreachable" about a host that answered nothing, a router has no way to the host (found: a
  // host gone behind a router read "a firewall or router refuses them").
  const uint64_t refusing = a.icmp - a.icmp_unreachable;
  std::string icmp = refusing == 0 ? "" : "; " + with_commas(refusing) + " drew an ICMP error instead, so a firewall "
                     "or router refuses " + (refusing == 1 ? "it" : "them") + ", and " + (refusing == 1 ? "its" : "their") +
                     " SYNs drew nothing (dropped, or refused with errors an ICMP rate limit held back) (ack-icmp)";
  if (a.icmp_unreachable > 0)
    icmp += "; " + with_commas(a.icmp_unreachable) + " drew an ICMP host or network unreachable: the host is not "
            "reachable (gone, or a router has no route to it), nothing refuses the " +
            (a.icmp_unreachable == 1 ? "port" : "ports") + " (ack-icmp)";
  if (a.reset == 0 && a.icmp == a.checked)
    return asked + "none reset an ACK" + icmp + rest;
  if (a.reset == 0)
    return asked + "none reset an ACK (" + (a.icmp ? "the rest: " : "") +
           "a firewall that drops everything, a host that is gone, or loss" +
           (icmp_refused ? "; or, beside the " + count_of(icmp_refused, "port") + " refused with an ICMP error, more "
                           "refusals that an ICMP rate limit swallowed (Linux sends about 6 to one address at once, "
                           "then about 1 a second, for IPv6 a few more: net.ipv4.icmp_ratelimit, "
                           "net.ipv6.icmp.ratelimit)"
                         : std::string()) +
           ")" + icmp + rest;
  return asked + with_commas(a.reset) + " reset an ACK, so segments reach " + (a.reset == 1 ? "it" : "them") +
         " and only SYNs are dropped: a listener whose accept queue is full (or SYN queue, in a SYN flood without "
         "cookies), a SYN rate limit, a rule for SYNs alone or one for the SYN/ACKs on their way back (ack-reset)" +
         icmp + rest;
}

Record ack_check_record(const AckCheckFacts& a) {
  if (!a.ran && a.skipped.empty()) return nullptr;
  Record rec;
  rec["silent"] = a.silent;
  rec["checked"] = a.checked;
  rec["reset"] = a.reset;
  rec["icmp"] = a.icmp;
  rec["icmp_unreachable"] = a.icmp_unreachable;  // of icmp: a router saying the host cannot be reached
  rec["sent"] = a.sent;
  if (!a.skipped.empty()) rec["skipped"] = a.skipped;
  return rec;
}

std::string traffic_sentence(const tcpkit::ScanSummary& s) {
  const std::string asked = with_commas(uint64_t(std::llround(s.requested_rate))) + "/s asked";
  const std::string rate = s.rate_measured ? with_commas(uint64_t(std::llround(s.achieved_rate))) + "/s of " + asked
                                           : asked + " (too short a send to measure)";
  return "sent " + count_of(s.sent, "probe") + path_text(s) + " in " + count_of(uint64_t(s.rounds), "round") + ", " +
         rate + slowed_text(s) + paused_text(s) +
         waits_text(s) +
         "; received " +
         with_commas(s.received) + ": " + count_of(s.replies, "reply", "replies") + ", " +
         (s.rejected.total() ? tcpkit::rejected_text(s.rejected) : std::string("0 rejected")) + ", " +
         count_of(s.duplicates, "duplicate") + (s.conflicting ? " (" + with_commas(s.conflicting) + " conflicting)" : "") +
         "; " + count_of(s.resets_sent, "reset") + " sent";
}
}  // namespace

void Report::write_json_summary(const tcpkit::ScanSummary& s, const RunFacts& facts) {
  Record rec;
  rec["type"] = "summary";
  rec["hosts"] = facts.hosts;
  rec["hosts_up"] = up_;
  rec["hosts_down"] = down_;
  rec["hosts_unknown"] = unknown_;
  rec["ports"] = facts.ports;
  rec["probes"] = s.planned;
  Record states = Record::object();
  for (int i = 0; i < tcpkit::kPortStateCount; ++i) states[tcpkit::to_string(PortState(i))] = reported_[size_t(i)];
  rec["states"] = states;
  add_traffic(rec, s);
  rec["flags"] = tcpkit::flags_compact(facts.flags);
  rec["seed"] = facts.seed;
  rec["shard"] = shard_text(facts);
  rec["source_port"] = facts.source_port;  // round 1's
  rec["source_ports"] = source_ports_list(facts);
  rec["interrupted"] = s.interrupted;
  rec["degraded"] = s.degraded;
  rec["degraded_reasons"] = s.degraded_reasons;
  rec["ack_check"] = ack_check_record(facts.ack);
  rec["zero_window_open"] = zero_window_open_;
  Record conflicts = Record::array();
  for (const auto& c : conflicts_) {
    Record one;
    one["address"] = c.address.to_string();
    one["port"] = c.port;
    one["then_state"] = tcpkit::to_string(c.verdict.state);
    one["then_reason"] = reason_word(c.verdict);
    one["then_ttl"] = c.ttl;
    conflicts.push_back(std::move(one));
  }
  rec["conflicts"] = conflicts;  // the first kConflictsKept; "conflicting" counts them all
  write_json(rec);
}

// "2 up, 1 down": the hosts by status; up always, the others when there are some.
std::string Report::host_counts_text() const {
  std::string host_counts = with_commas(up_) + " up";
  if (down_ > 0) host_counts += ", " + with_commas(down_) + " down";
  if (unknown_ > 0) host_counts += ", " + with_commas(unknown_) + " unknown";
  return host_counts;
}

// "1 open, 3 closed": the states found; the positive one always, the others when there are some.
std::string Report::state_counts_text() const {
  std::string counts;
  for (int i = 0; i < tcpkit::kPortStateCount; ++i) {
    if (reported_[size_t(i)] == 0 && PortState(i) != tcpkit::positive_state(style_)) continue;
    counts += (counts.empty() ? "" : ", ") + with_commas(reported_[size_t(i)]) + " " + tcpkit::to_string(PortState(i));
  }
  return counts;
}

void Report::write_text_summary(const tcpkit::ScanSummary& s, const RunFacts& facts) {
  const std::string duration = tcpkit::format_fixed(s.duration_s, 3) + " s";
  std::vector<std::string> sentences = {
      std::string("tcpscan ") + (s.interrupted ? "interrupted" : "done") + ": " + count_of(facts.hosts, "host") +
          " (" + host_counts_text() + ") x " + count_of(facts.ports, "port") + " in " + duration,
      "ports of the hosts up: " + state_counts_text(),
      traffic_sentence(s),
      "flags " + tcpkit::flags_compact(facts.flags) + ", seed " + std::to_string(facts.seed) + ", shard " +
          shard_text(facts) + ", " + source_ports_text(facts) + "; " + degraded_text(s),
  };
  if (auto ack = ack_check_sentence(facts.ack, icmp_refused_); !ack.empty()) sentences.insert(sentences.begin() + 2, ack);
  // Two parties answer a port: the result shown is the first answer's, which may be the wrong one.
  for (auto it = conflicts_.rbegin(); it != conflicts_.rend(); ++it)
    sentences.insert(sentences.begin() + 2,
                     "CONFLICT: " + it->address.to_string_with_port(it->port) + " answered again, " +
                         tcpkit::to_string(it->verdict.state) + " (" + reason_word(it->verdict) + ", ttl " +
                         std::to_string(it->ttl) + "), after the answer shown: two parties answer this port (an IPS "
                         "or firewall resetting in front of the server, or a spoofer); `tcpprobe HOST:PORT` shows "
                         "both answers and their TTLs");
  if (s.conflicting > conflicts_.size())
    sentences.insert(sentences.begin() + 2 + conflicts_.size(),
                     with_commas(s.conflicting - conflicts_.size()) + " more conflicting answers (in the counts below)");
  if (zero_window_open_)
    sentences.insert(sentences.begin() + 2,
                     count_of(zero_window_open_, "open port") + " answered with a zero window (win 0), a SYN proxy's mark: "
                     "netfilter SYNPROXY answers so for every port it guards, listened on or not, so such a port may be "
                     "closed behind it; `tcpprobe --trace HOST:PORT` shows what follows the handshake (an RST: no server)");
  // CSV and XML keep stdout clean: their summary goes to stderr, unless the reader has gone
  // (a run cut by `| head` prints nothing more, whatever the form).
  const bool to_stderr = options_.form == OutputForm::csv || options_.form == OutputForm::xml;
  if (to_stderr && tcpkit::cli::output_gone()) return;
  std::FILE* out = to_stderr ? stderr : stdout;
  if (options_.form == OutputForm::text && !options_.stream && text_written_) std::fputs("\n", out);
  for (const auto& sentence : sentences) std::fputs(wrapped("# " + sentence, "#   ").c_str(), out);
}

void Report::summary(const tcpkit::ScanSummary& s, const RunFacts& facts) {
  finish_hosts(facts.hosts);
  if (xml_) xml_->end(up_, down_, facts.hosts, s.duration_s, s.interrupted);
  if (options_.form == OutputForm::grepable) write_grepable();
  if (options_.form == OutputForm::csv && !tcpkit::cli::output_gone()) {  // --open with none open: the header still
    if (!csv_) csv_.emplace(stdout, kResultColumns);
    csv_->write_header();
  }
  if (options_.form == OutputForm::json)
    write_json_summary(s, facts);
  else
    write_text_summary(s, facts);
  flush();
}

// Everything shown is read back from the bytes the sender would write.
void Report::probe(const tcpkit::DryProbe& probe) {
  const auto& d = probe.decoded;
  const std::string flags = tcpkit::flags_compact(d.tcp.flags);
  if (options_.form == OutputForm::json || options_.form == OutputForm::csv) {
    Record rec;
    rec["type"] = "probe";
    rec["n"] = probe.n;
    rec["src"] = d.src.to_string();
    rec["sport"] = d.tcp.sport;
    rec["dst"] = d.dst.to_string();
    rec["dport"] = d.tcp.dport;
    rec["flags"] = flags;
    rec["seq"] = d.tcp.seq;
    rec["ack"] = d.tcp.ack;
    rec["bytes"] = probe.packet.size();
    if (options_.form == OutputForm::json) {
      write_json(rec);
    } else {
      if (!csv_) csv_.emplace(stdout, kProbeColumns);
      csv_->write(rec);
    }
    return;
  }
  std::string line = d.src.to_string_with_port(d.tcp.sport) + " > " + d.dst.to_string_with_port(d.tcp.dport) + " " +
                     flags + " seq " + std::to_string(d.tcp.seq);
  if (d.tcp.flags & tcpkit::tcp_flag::ack) line += " ack " + std::to_string(d.tcp.ack);
  line += " length " + std::to_string(probe.packet.size()) + "\n";
  std::fputs(line.c_str(), stdout);
}

void Report::dry_run_summary(uint64_t probes, const RunFacts& facts) {
  const std::string shard = shard_text(facts);
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
    std::FILE* out = options_.form == OutputForm::csv || options_.form == OutputForm::xml ? stderr : stdout;
    std::fputs(wrapped("# dry run: " + count_of(probes, "probe") + " (" + count_of(facts.hosts, "host") + " x " +
                             count_of(facts.ports, "port") + "), seed " + std::to_string(facts.seed) + ", shard " + shard +
                             ", " + source_ports_text(facts) + "; nothing was sent")
                   .c_str(),
               out);
  }
  flush();
}

}  // namespace tcpscan
