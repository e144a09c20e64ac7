// Runs tcpstray: resolves the target, sets up the raw sender and (for the TIME_WAIT cases)
// the kernel-RST guard, runs the selected cases one by one and turns the verdicts into the
// exit code. Ctrl-C ends the current case as inconclusive and prints the partial summary.
#include <algorithm>
#include <optional>

#include "common/cli_common.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/io/nft_guard.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/stray/stray_connection.hpp"
#include "tcpkit/stray/stray_stateless.hpp"
#include "tcpstray/options.hpp"
#include "tcpstray/stray_report.hpp"

namespace tcpstray {

namespace {

constexpr const char* kTool = "tcpstray";
namespace cli = tcpkit::cli;

int fail_with(const tcpkit::Error& error, const std::string& hint = "") {
  cli::print_error(kTool, error.message + hint);
  return cli::exit_code_for(error);
}

void count(Tally& t, const tcpkit::StrayJudgement& j) {
  ++t.cases;
  if (j.verdict == tcpkit::StrayVerdict::conformant) ++t.conformant;
  if (j.verdict == tcpkit::StrayVerdict::deviation) ++t.deviation;
  if (j.verdict == tcpkit::StrayVerdict::inconclusive) ++t.inconclusive;
  if (j.rate_limit_possible) ++t.rate_limit_possible;
}

// The address, ports and route the cases run against.
tcpkit::Result<tcpkit::StrayTarget> stray_target(const Options& o) {
  auto addresses = tcpkit::resolve_host(o.target.host, o.family);
  if (!addresses) return tl::unexpected(addresses.error());
  tcpkit::StrayTarget target;
  target.address = addresses->front();
  if (target.address.is_link_local())  // a name that resolves to one: refused like a literal (main)
    return tcpkit::fail(tcpkit::ErrorCode::bad_input, "tcpstray does not test link-local targets ('" + o.target.host +
                                                          "' is " + target.address.to_string() + "): use a global or ULA address");
  target.port = o.target.port.value_or(0);  // main refused a target without one
  target.closed_port = o.closed_port;
  target.timeout = o.timeout;
  target.request = o.request;
  target.bind_interface = !o.interface.empty();
  auto route = tcpkit::route_to(target.address, std::nullopt, o.interface);
  if (!route) return tl::unexpected(route.error());
  target.route = *route;
  return target;
}

// Tables a crashed run left behind go first; without the privilege that only matters when
// this run needs a guard itself (and then installing it says so).
void clear_stale_guards() {
  if (auto stale = tcpkit::remove_stale_guards(); stale) {
    for (const auto& name : *stale)
      cli::print_error(kTool, "removed nftables table inet " + name + " left behind by a run that died");
  }
}

// Sets up the kernel-RST guard when a selected case needs one; the exit code when that failed.
std::optional<int> install_guard(const Options& o, const tcpkit::StrayTarget& target, std::optional<tcpkit::NftGuard>& guard) {
  const bool need_guard = std::any_of(o.cases.begin(), o.cases.end(), [](tcpkit::StrayCase c) {
    return tcpkit::stray_group_needs_guard(tcpkit::stray_case_info(c).group);
  });
  if (!need_guard) return std::nullopt;
  auto g = tcpkit::NftGuard::install({target.address, target.port, tcpkit::kStrayPacketMark});
  if (!g) {
    const std::string hint = g.error().code == tcpkit::ErrorCode::privilege
                                 ? " (the time-wait cases need it; leave them out: tcpstray --group closed,listen,live " +
                                       o.target.text + ")"
                                 : "";
    return fail_with(g.error(), hint);
  }
  guard.emplace(std::move(*g));
  return std::nullopt;
}

// Each checked once, before the first case of its group: a listen port that does not listen,
// a closed port that does.
struct PortChecks {
  std::optional<std::optional<std::string>> not_listening, not_closed;
};

// Runs one case; a closed- or listen-port case whose port is not usable gets the reason instead.
tcpkit::Result<tcpkit::StrayRun> run_case(tcpkit::StrayCase id, const tcpkit::StrayTarget& target, tcpkit::RawSender& sender,
                                          PortChecks& checks) {
  const auto group = tcpkit::stray_case_info(id).group;
  const bool stateless = group == tcpkit::StrayGroup::listen || group == tcpkit::StrayGroup::closed;
  if (!stateless) return tcpkit::run_connection_case(id, target, sender, cli::interrupt_fd());
  auto& not_usable = group == tcpkit::StrayGroup::listen ? checks.not_listening : checks.not_closed;
  if (!not_usable) {
    auto check = group == tcpkit::StrayGroup::listen ? tcpkit::check_listening(target, cli::interrupt_fd())
                                                     : tcpkit::check_closed(target, cli::interrupt_fd());
    if (!check) return tl::unexpected(check.error());
    not_usable = *check;
  }
  if (!*not_usable) return tcpkit::run_stateless_case(id, target, sender, cli::interrupt_fd());
  tcpkit::StrayRun result;
  result.id = id;
  result.seen.setup_problem = **not_usable;
  return result;
}

// One case run and judged, waiting for its group to end before it is reported.
struct CaseOutcome {
  tcpkit::StrayRun run;
  tcpkit::StrayJudgement judgement;
  bool loss = false;  // the case shows that the path loses packets
};

// A closed- or listening-port case whose answer is an RST and that drew nothing at all is sent
// once more (from a fresh port): a lost segment must not pass for a firewall that drops. An
// answer to the second try is judged, and shows that the path loses packets.
tcpkit::Result<CaseOutcome> run_and_judge(tcpkit::StrayCase id, const tcpkit::StrayTarget& target,
                                          tcpkit::RawSender& sender, PortChecks& checks) {
  auto result = run_case(id, target, sender, checks);
  if (!result) return tl::unexpected(result.error());
  const auto group = tcpkit::stray_case_info(id).group;
  const bool wants_rst = (group == tcpkit::StrayGroup::closed && id != tcpkit::StrayCase::closed_rst) ||
                         id == tcpkit::StrayCase::listen_ack;
  if (wants_rst && !result->seen.setup_problem && result->seen.answers.empty() && !cli::interrupted()) {
    auto again = run_case(id, target, sender, checks);
    if (!again) return tl::unexpected(again.error());
    if (!again->seen.answers.empty()) {
      auto judgement = tcpkit::second_try(tcpkit::judge_stray_case(id, again->probe, again->seen));
      return CaseOutcome{std::move(*again), std::move(judgement), true};
    }
  }
  if (cli::interrupted()) result->seen.setup_problem = "interrupted before the case finished";
  auto judgement = tcpkit::judge_stray_case(id, result->probe, result->seen);
  const bool loss = tcpkit::stray_saw_loss(*result);
  return CaseOutcome{std::move(*result), std::move(judgement), loss};
}

// The case whose segment a closed or listening port answers with an RST: the control that shows
// segments reach the peer's stack there.
tcpkit::StrayCase control_case(tcpkit::StrayGroup group) {
  return group == tcpkit::StrayGroup::listen ? tcpkit::StrayCase::listen_ack : tcpkit::StrayCase::closed_ack;
}

// Whether the run shows that segments reach the peer's stack on the group's port: a case of the
// group drew an answer, or else the control segment, sent now when the group did not run it.
tcpkit::Result<bool> port_control(tcpkit::StrayGroup group, const std::vector<CaseOutcome>& outcomes,
                                  const tcpkit::StrayTarget& target, tcpkit::RawSender& sender) {
  bool control_ran = false;
  for (const auto& o : outcomes) {
    if (tcpkit::stray_drew_answer(o.run.seen)) return true;
    control_ran = control_ran || o.run.id == control_case(group);
  }
  if (control_ran || cli::interrupted()) return false;
  auto control = tcpkit::run_stateless_case(control_case(group), target, sender, cli::interrupt_fd());
  if (!control) return tl::unexpected(control.error());
  return tcpkit::stray_drew_answer(control->seen);
}

// Reports a group's cases once the group has run, after the port control for a closed or
// listening port (silence there decides nothing without one) and the loss control (loss_seen:
// whether the run so far, this group included, saw the path lose packets).
std::optional<int> report_group(std::vector<CaseOutcome>& outcomes, const tcpkit::StrayTarget& target,
                                tcpkit::RawSender& sender, const RunInfo& info, Reporter& reporter, Tally& tally,
                                bool& loss_seen) {
  if (outcomes.empty()) return std::nullopt;
  for (const auto& o : outcomes) loss_seen = loss_seen || o.loss;
  const auto group = tcpkit::stray_case_info(outcomes.front().run.id).group;
  if (group == tcpkit::StrayGroup::closed || group == tcpkit::StrayGroup::listen) {
    const bool usable = std::any_of(outcomes.begin(), outcomes.end(), [](const CaseOutcome& o) {
      return !o.run.seen.setup_problem;
    });
    auto answered = usable ? port_control(group, outcomes, target, sender) : tcpkit::Result<bool>(true);
    if (!answered) return fail_with(answered.error());
    if (!*answered) {
      const uint16_t port = group == tcpkit::StrayGroup::closed ? target.closed_port : target.port;
      const std::string note = tcpkit::unresolved_neighbour_note(target);
      for (auto& o : outcomes) o.judgement = tcpkit::apply_port_control(o.judgement, port, false, note);
    }
  }
  for (auto& o : outcomes) {
    o.judgement = tcpkit::apply_loss_control(o.judgement, o.run.seen, loss_seen);
    reporter.result(info, o.run, o.judgement);
    count(tally, o.judgement);
    tally.capture_drops += o.run.seen.capture_drops;
    tally.rejected += o.run.rejected;
    tally.duplicates += o.run.seen.duplicates;
  }
  outcomes.clear();
  return std::nullopt;
}

// Runs and judges the cases in order until the last, Ctrl-C or a failure, and reports them group
// by group; returns the failure's exit code, else kExitPositive.
int run_cases(const Options& o, const tcpkit::StrayTarget& target, tcpkit::RawSender& sender, const RunInfo& info,
              Reporter& reporter, Tally& tally) {
  PortChecks checks;
  std::vector<CaseOutcome> group;
  bool loss_seen = false;  // the run so far saw the path lose packets
  std::optional<tcpkit::StrayJudgement> live_rst_exact;  // tw-rst's RST control, when the run has it
  for (const auto id : o.cases) {
    if (cli::interrupted()) break;
    if (!group.empty() && tcpkit::stray_case_info(group.front().run.id).group != tcpkit::stray_case_info(id).group)
      if (auto code = report_group(group, target, sender, info, reporter, tally, loss_seen)) return *code;
    auto outcome = run_and_judge(id, target, sender, checks);
    if (!outcome) {
      report_group(group, target, sender, info, reporter, tally, loss_seen);
      return fail_with(outcome.error());
    }
    if (id == tcpkit::StrayCase::live_rst_exact) live_rst_exact = outcome->judgement;
    if (id == tcpkit::StrayCase::tw_rst)
      outcome->judgement = tcpkit::apply_rst_control(std::move(outcome->judgement), live_rst_exact ? &*live_rst_exact : nullptr);
    group.push_back(std::move(*outcome));
  }
  if (auto code = report_group(group, target, sender, info, reporter, tally, loss_seen)) return *code;
  return cli::kExitPositive;
}

}  // namespace

int list_catalogue(tcpkit::Format format) {
  print_catalogue(format);
  return cli::kExitPositive;
}

int run(const Options& o) {
  cli::install_interrupt_handler();
  if (!cli::has_cap_net_raw()) {
    cli::print_error(kTool, cli::net_raw_hint(kTool));
    return cli::kExitPrivilege;
  }
  auto target = stray_target(o);
  if (!target) return fail_with(target.error());
  clear_stale_guards();
  std::optional<tcpkit::NftGuard> guard;
  if (auto code = install_guard(o, *target, guard)) return *code;
  auto sender = tcpkit::open_marked_sender(*target);
  if (!sender) return fail_with(sender.error(), sender.error().code == tcpkit::ErrorCode::privilege ? "; " + cli::net_raw_hint(kTool) : "");
  if (guard && !sender->marked) {
    cli::print_error(kTool, "cannot mark crafted packets (SO_MARK needs CAP_NET_ADMIN): the guard would drop them");
    return cli::kExitPrivilege;
  }

  RunInfo info{o.target.text, target->address, target->port, target->closed_port, target->route.source,
               target->route.interface, guard ? guard->table() : ""};
  Reporter reporter(o.format, o.verbose);
  reporter.header(info);
  Tally tally;
  int code = run_cases(o, *target, sender->sender, info, reporter, tally);
  tally.interrupted = cli::interrupted();
  reporter.summary(info, tally);
  if (guard) {
    if (auto removed = guard->remove(); !removed) {
      cli::print_error(kTool, removed.error().message);
      code = std::max(code, int(cli::kExitSystem));
    }
  }
  if (code != cli::kExitPositive) return code;
  return tally.conformant == tally.cases && !tally.interrupted ? cli::kExitPositive : cli::kExitNegative;
}

}  // namespace tcpstray
