// tcpscan's run(): targets and ports -> plan -> dry run or engine -> report -> exit code.
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "common/cli_common.hpp"
#include "common/progress_line.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/util/counts.hpp"
#include "tcpkit/wire/cookie.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/scan/probe_kind.hpp"
#include "tcpkit/scan/scan_ack_check.hpp"
#include "tcpkit/scan/scan_dry_run.hpp"
#include "tcpkit/scan/scan_engine.hpp"
#include "tcpkit/scan/scan_seed.hpp"
#include "tcpkit/scan/source_port_hold.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/target_set.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpscan/options.hpp"
#include "tcpscan/scan_report.hpp"
#include "tcpscan/target_zone.hpp"

namespace tcpscan {

namespace {
constexpr const char* kTool = "tcpscan";
// The progress line and the streamed results are refreshed this often: smooth to the eye,
// cheap for the scan.
constexpr std::chrono::milliseconds kProgressInterval{100};

int report_error(const tcpkit::Error& e) {
  tcpkit::cli::print_error(kTool, e.message);
  return tcpkit::cli::exit_code_for(e);
}

// A bad entry of a target file is named by FILE:LINE, so that it can be found and fixed.
tcpkit::Error at_line(const std::string& file, int line, const tcpkit::Error& e) {
  return tcpkit::Error{e.code, e.err_no, (file == "-" ? "<stdin>" : file) + ":" + std::to_string(line) + ": " + e.message};
}

// The targets of the command line and the -iL files; a zone in a file (fe80::1%eth0) names the
// interface as one on the command line does (o.interface). Exclusions come after every target,
// so that a zone in one is checked against the interface the targets settled.
tcpkit::Result<tcpkit::TargetSet> build_targets(Options& o) {
  tcpkit::TargetSet targets(tcpkit::TargetOptions{o.family, o.allow_broadcast});
  uint64_t given = o.targets.size(), excluded = o.excludes.size();
  for (const auto& t : o.targets)
    if (auto r = targets.add(t); !r) return tl::unexpected(r.error());
  const std::string interface_before = o.interface;
  for (const auto& file : o.target_files) {
    auto tokens = tcpkit::read_target_file(file);
    if (!tokens) return tl::unexpected(tokens.error());
    given += tokens->size();
    for (auto& t : *tokens) {
      if (auto why = take_zone(t.text, o); !why.empty())
        return tl::unexpected(at_line(file, t.line, tcpkit::Error{tcpkit::ErrorCode::bad_input, 0, why}));
      if (auto r = targets.add(t.text); !r) return tl::unexpected(at_line(file, t.line, r.error()));
    }
  }
  if (o.interface != interface_before)
    if (auto index = tcpkit::interface_index(o.interface); !index) return tl::unexpected(index.error());
  for (auto x : o.excludes) {
    if (auto why = take_excluded_zone(x, o); !why.empty()) return tcpkit::fail(tcpkit::ErrorCode::bad_input, why);
    if (auto r = targets.exclude(x); !r) return tl::unexpected(r.error());
  }
  for (const auto& file : o.exclude_files) {
    auto tokens = tcpkit::read_target_file(file);
    if (!tokens) return tl::unexpected(tokens.error());
    excluded += tokens->size();
    for (auto& t : *tokens) {
      if (auto why = take_excluded_zone(t.text, o); !why.empty())
        return tl::unexpected(at_line(file, t.line, tcpkit::Error{tcpkit::ErrorCode::bad_input, 0, why}));
      if (auto r = targets.exclude(t.text); !r) return tl::unexpected(at_line(file, t.line, r.error()));
    }
  }
  if (given == 0) {
    std::string files;
    for (const auto& f : o.target_files) files += (files.empty() ? "" : ", ") + (f == "-" ? "<stdin>" : f);
    return tcpkit::fail(tcpkit::ErrorCode::bad_input, "no targets: " + files + " lists none");
  }
  if (auto r = targets.finalize(); !r) return tl::unexpected(r.error());
  if (targets.empty())
    return tcpkit::fail(tcpkit::ErrorCode::bad_input, excluded > 0 ? "no targets left after the exclusions"
                                                                    : "no targets left to scan");
  return targets;
}

// Short, so that it fits a narrow terminal: "round 1: sent 41/602, 406/s, replies 16, found 0,
// ETA 2 s". Retry rounds send only what is unanswered: their count stands alone.
std::string progress_text(const tcpkit::ScanProgress& p, double rate, const Options& o) {
  const double left = p.round == 0 && !p.waiting ? double(p.planned - std::min(p.sent, p.planned)) / rate : 0;
  std::string sent = tcpkit::with_commas(p.sent);
  if (p.round == 0) sent += "/" + tcpkit::with_commas(p.planned);
  const std::string speed = tcpkit::format_fixed(p.elapsed_s > 0 ? double(p.sent) / p.elapsed_s : 0.0, 0) + "/s";
  return "round " + std::to_string(p.round + 1) + ": sent " + sent + ", " + speed + ", replies " +
         tcpkit::with_commas(p.replies) + ", found " + tcpkit::with_commas(p.positive) + ", " +
         (p.waiting ? std::string("waiting for late replies")
                    : "ETA " + std::to_string(int(std::ceil(left + double(o.wait.count()) / 1e6))) + " s");
}

int dry_run(const Options& o, const tcpkit::ScanPlan& plan, const tcpkit::ScanConfig& config, Report& report,
            const RunFacts& facts) {
  auto sources = tcpkit::dry_run_sources(plan.targets(), o.source, o.interface);
  if (!sources) return report_error(sources.error());
  auto done = tcpkit::dry_run(plan, *sources, config, [&](const tcpkit::DryProbe& p) { report.probe(p); });
  if (!done) return report_error(done.error());
  report.dry_run_summary(plan.length(), facts);
  return tcpkit::cli::kExitPositive;
}

tcpkit::Result<std::vector<uint16_t>> ports_of(const Options& o) {
  if (o.ports.empty()) return tcpkit::default_scan_ports();
  return tcpkit::parse_port_list(o.ports);
}

tcpkit::ScanConfig config_of(const Options& o, uint64_t seed) {
  tcpkit::ScanConfig config;
  config.flags = o.flags;
  config.rate = o.rate;
  config.send_threads = o.send_threads ? o.send_threads : tcpkit::default_send_threads(o.rate);
  config.min_rate = o.min_rate;
  config.retries = o.retries;
  config.fixed_rounds = o.fixed_rounds;
  config.wait = o.wait;
  config.wait_forced = o.wait_forced;
  config.source_port = o.source_port ? *o.source_port : tcpkit::default_source_port(seed);
  config.fixed_source_port = o.source_port.has_value();
  config.key = o.dry_run ? tcpkit::dry_run_key(seed) : tcpkit::random_sip_key();
  return config;
}

RunFacts facts_of(const Options& o, const tcpkit::ScanPlan& plan, const tcpkit::ScanConfig& config, uint64_t seed,
                  std::string services) {
  RunFacts facts;
  facts.hosts = plan.targets().size();
  facts.ports = plan.port_count();
  facts.seed = seed;
  facts.shard = o.shard;
  facts.source_port = config.source_port;
  facts.last_source_port = config.last_source_port();  // planned; a real run reports the rounds it sent
  facts.flags = o.flags;
  facts.services = std::move(services);
  return facts;
}

// On stderr, for the person at the terminal: why the run is degraded and a rate to try.
void warn_degraded(const tcpkit::ScanSummary& summary) {
  std::string why;
  for (const auto& r : summary.degraded_reasons) why += (why.empty() ? "" : "; ") + r;
  const std::string suggestion = summary.suggested_rate > 0 ? "; try a lower rate, e.g. --rate " +
                                                                    std::to_string(uint64_t(summary.suggested_rate))
                                                              : "";
  tcpkit::cli::print_warning(kTool, "degraded run (" + why + "): results may be incomplete" + suggestion);
}

// Why the ACK check left silent ports unasked, in the summary's words ("" when it left none).
std::string left_out_text(const tcpkit::SilentPortHold& hold) {
  const std::string max = "--ack-check-max " + std::to_string(hold.max());
  const uint64_t hosts = hold.silent_hosts_asked();
  const bool capped = hosts == hold.max();
  switch (hold.left_out()) {
    case tcpkit::SilentPortHold::LeftOut::none: return "";
    case tcpkit::SilentPortHold::LeftOut::of_silent_hosts:
      // "not asked: 5 silent ports of hosts that answered nothing (one port of each such host was;
      // 8 in all, more than --ack-check-max 4)"
      return "not asked: " + tcpkit::count_of(hold.total() - hold.of_answering() - hosts, "silent port") +
             " of hosts that answered nothing (one port of " +
             (!capped      ? std::string("each such host")
              : hosts == 1 ? std::string("the first such host")
                           : "each of the first " + tcpkit::count_of(hosts, "such host")) +
             " was; " +
             tcpkit::with_commas(hold.total()) + " in all, more than " + max + ")";
    case tcpkit::SilentPortHold::LeftOut::sample: {
      // "not asked: 224 silent ports (asked: a random 64 of the 288; more than --ack-check-max 64)"
      const bool only_some = hold.of_answering() < hold.total();
      const std::string silent_hosts =
          hosts ? ", and one port of each of " + std::string(capped ? "the first " : "") +
                      tcpkit::count_of(hosts, "host") + " that answered nothing"
                : "";
      return "not asked: " + tcpkit::count_of(hold.total() - hold.max() - hosts, "silent port") + " (asked: a random " +
             tcpkit::with_commas(hold.max()) + " of the " + tcpkit::with_commas(hold.of_answering()) +
             (only_some ? " of hosts that answered" + silent_hosts + ", " + tcpkit::with_commas(hold.total()) + " in all"
                        : "") +
             "; more than " + max + ")";
    }
  }
  return "";
}

// The engine's run with the progress line; results go to report as they come, the ports that
// drew nothing through `silent` when the ACK check may ask them.
tcpkit::ScanSummary run_engine(tcpkit::ScanEngine& engine, const Options& o, Report& report,
                               tcpkit::SilentPortHold* silent) {
  tcpkit::cli::ProgressLine progress(tcpkit::cli::stderr_redraws());
  report.set_progress(&progress);
  auto summary = engine.run(
      [&](const tcpkit::ScanResult& r) {
        if (r.conflict)
          report.conflict(r);
        else if (silent && r.verdict.reason == tcpkit::Reason::no_response)
          silent->add(r);
        else
          report.result(r);
      },
      [&](const tcpkit::ScanProgress& p) {
        report.flush();
        // A failed write (a full disk) cancels the scan: exit 4, not a silent scan.
        (void)tcpkit::cli::interrupted();
        progress.show(progress_text(p, o.rate, o));
      },
      kProgressInterval);
  progress.clear();
  report.set_progress(nullptr);
  return summary;
}

// A SYN scan's silent ports get one ACK each (scan_ack_check.hpp) when there are few enough;
// then they go to the report, marked with what the ACK drew. The check's time counts in the
// scan's.
AckCheckFacts check_silent_ports(const Options& o, const tcpkit::ScanConfig& config, tcpkit::ScanSummary& summary,
                                 tcpkit::SilentPortHold& silent, Report& report) {
  AckCheckFacts facts;
  facts.silent = silent.total();
  if (silent.total() == 0) return facts;
  if (summary.interrupted) {
    facts.skipped = "the scan was interrupted";
    return facts;
  }
  facts.skipped = left_out_text(silent);
  auto ports = silent.to_ask();
  if (ports.empty()) return facts;
  // The ACKs wait as long as the scan's last round did: long enough for its answers.
  const auto wait = summary.waits_us.empty() ? config.wait : std::chrono::microseconds(summary.waits_us.back());
  auto outcome = tcpkit::ack_check_silent_ports(std::move(ports), config, wait,
                                                {o.source, o.interface, o.send_mode, o.qdisc_bypass});
  if (!outcome) {
    facts.skipped = "it failed: " + outcome.error().message;
    tcpkit::cli::print_warning(kTool, "the ACK check of the silent ports failed: " + outcome.error().message);
    return facts;
  }
  tcpkit::mark_ack_answers(silent.held(), *outcome);
  // Resets: a rule, a full queue, or a limiter the retry rounds did not show (wants_syn_recheck).
  std::optional<tcpkit::SynRecheck> recheck;
  if (tcpkit::wants_syn_recheck(*outcome, summary)) {
    const auto ports = tcpkit::recheck_ports(*outcome, summary, [&](const tcpkit::IpAddress& a) { return report.syn_answers(a); });
    auto again = tcpkit::recheck_reset_ports(ports, config, wait, {o.source, o.interface, o.send_mode, o.qdisc_bypass},
                                             config.cancel_fd);
    if (again) {
      recheck = *again;
      summary.duration_s += again->duration_s;
    }
  }
  tcpkit::judge_ack_resets(*outcome, silent.total(), summary, recheck);
  facts.ran = !outcome->interrupted;
  if (outcome->interrupted) facts.skipped = "it was interrupted";
  facts.checked = outcome->asked.size();
  facts.reset = outcome->reset.size();
  facts.icmp = outcome->icmp.size();
  // "Host unreachable" about a host that answered SYNs on other ports is a rule's refusal with
  // that code (found: a router's reject with icmpv6 addr-unreachable read "the host is not
  // reachable, nothing refuses the port" beside the host's open port).
  facts.icmp_unreachable = uint64_t(std::count_if(outcome->icmp.begin(), outcome->icmp.end(), [&](const auto& answer) {
    const tcpkit::Verdict& v = answer.verdict;
    return tcpkit::icmp_meaning(v.icmp_v6, v.icmp_type, v.icmp_code, v.icmp_from_target) ==
               tcpkit::IcmpMeaning::host_unreachable &&
           report.syn_answers(answer.port.address) == 0;
  }));
  facts.sent = outcome->sent;
  summary.duration_s += outcome->duration_s;
  return facts;
}

// The real scan: privilege, sources, engine, report, exit code.
int scan(const Options& o, const tcpkit::ScanPlan& plan, tcpkit::ScanConfig& config, Report& report, RunFacts& facts) {
  if (!tcpkit::cli::has_cap_net_raw()) {
    tcpkit::cli::print_error(kTool, tcpkit::cli::net_raw_hint(kTool));
    return tcpkit::cli::kExitPrivilege;
  }
  auto sources = tcpkit::choose_sources(plan.targets(), o.source, o.interface);
  if (!sources) return report_error(sources.error());  // alone: bad input is one line
  // A forced source that is not ours (nmap's -S spoofing) is allowed, but its answers go to it:
  // they reach this scan only where they pass this interface, else every port looks filtered.
  if (o.source && !o.source->is_link_local())
    if (auto held = tcpkit::reserve_port(*o.source); !held && held.error().code == tcpkit::ErrorCode::bad_input)
      tcpkit::cli::print_warning(kTool, held.error().message + ": its answers reach this scan only if they pass " +
                                            "this interface; unanswered ports will look filtered");
  // Held to the end of the run, the ACK check's too; the port may move past ones in use.
  auto held_ports = tcpkit::hold_source_ports(*sources, config);
  if (!held_ports) return report_error(held_ports.error());
  facts.source_port = config.source_port;
  facts.last_source_port = config.last_source_port();
  tcpkit::cli::install_interrupt_handler();
  config.cancel_fd = tcpkit::cli::interrupt_fd();
  // The sender and receiver threads allocate little and rarely (thread caches serve them): one
  // malloc arena for all threads instead of one each saves ~100 kB of resident memory.
  mallopt(M_ARENA_MAX, 1);
  auto path = tcpkit::choose_send_path(plan.targets(), *sources, o.source, o.send_mode, o.qdisc_bypass);
  if (!path) return report_error(path.error());
  auto engine = tcpkit::ScanEngine::open(plan, *sources, config, *path);
  if (!engine) return report_error(engine.error());
  if (std::string why; !report.open_xml(facts, why)) {
    tcpkit::cli::print_error(kTool, why);
    return tcpkit::cli::kExitUsage;
  }
  report.probe_stale_neighbours([&plan](const tcpkit::IpAddress& a) { return plan.targets().index_of(a).has_value(); },
                                tcpkit::cli::interrupt_fd(), sources->interface_index);
  // Only SYN probes ask why a port was silent: the other kinds' silence is their answer.
  const bool ack_check = o.flags == tcpkit::tcp_flag::syn && o.ack_check_max > 0;
  // Hosts with a port still unanswered are in the report's table until their last port comes.
  tcpkit::SilentPortHold silent(
      o.ack_check_max, [&](const tcpkit::IpAddress& a) { return report.host_answered(a); },
      [&](const tcpkit::ScanResult& r) { report.result(r); });
  auto summary = run_engine(**engine, o, report, ack_check ? &silent : nullptr);
  // The scan's packet ring and sockets go before the ACK check opens its own: both at once were
  // the run's peak memory (a ring is resident whole, 1.25 MB at --rate 400000).
  engine->reset();
  if (summary.receive_error) return report_error(*summary.receive_error);
  if (summary.send_failure) {
    // The sockets opened, so EPERM here is this host's output firewall, not a missing privilege.
    auto e = *summary.send_failure;
    e.code = tcpkit::ErrorCode::system;
    e.message = "no probe could be sent: " + e.message +
                (e.err_no == EPERM ? " (a firewall rule on this host's output refuses them)" : "");
    return report_error(e);
  }
  if (ack_check) {
    facts.ack = check_silent_ports(o, config, summary, silent, report);
    for (const auto& r : silent.held()) report.result(r);
    // A Ctrl-C during the check ends the run as one during the scan would.
    summary.interrupted = summary.interrupted || tcpkit::cli::interrupted();
  }
  facts.last_source_port = config.port_of_round(std::max(summary.rounds, 1) - 1);
  report.summary(summary, facts);
  // A reader that went away reads nothing more, and is told nothing on stderr either.
  if (summary.degraded && !tcpkit::cli::output_gone()) warn_degraded(summary);
  if (const auto why = report.xml_error(); !why.empty()) {
    tcpkit::cli::print_error(kTool, why);
    return tcpkit::cli::kExitSystem;
  }
  if (summary.interrupted) return tcpkit::cli::kExitNegative;
  return report.positive() > 0 ? tcpkit::cli::kExitPositive : tcpkit::cli::kExitNegative;
}
}  // namespace

int run(const Options& given) {
  Options o = given;  // a zone in an -iL file names the interface
  auto targets = build_targets(o);
  if (!targets) return report_error(targets.error());
  auto ports = ports_of(o);
  if (!ports) return report_error(ports.error());
  const uint64_t seed = o.seed ? *o.seed : tcpkit::random_sip_key().k0;
  std::string services = tcpkit::compress_ports(*ports);
  auto plan = tcpkit::ScanPlan::make(*targets, std::move(*ports), seed, o.shard);
  if (!plan) return report_error(plan.error());
  tcpkit::ScanConfig config = config_of(o, seed);
  RunFacts facts = facts_of(o, *plan, config, seed, std::move(services));
  Report report(o, tcpkit::probe_kind_for(o.flags).style, plan->port_count());
  if (o.dry_run) return dry_run(o, *plan, config, report, facts);
  return scan(o, *plan, config, report, facts);
}

}  // namespace tcpscan
