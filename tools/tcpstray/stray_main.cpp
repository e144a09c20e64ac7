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
#include "tcpkit/stray/stray_session.hpp"
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

// Runs the cases and reports them group by group as the library hands them out; returns the
// failure's exit code, else kExitPositive.
int run_cases(const Options& o, const tcpkit::StrayTarget& target, tcpkit::RawSender& sender, const RunInfo& info,
              Reporter& reporter, Tally& tally) {
  auto report = [&](const std::vector<tcpkit::StrayOutcome>& outcomes) {
    for (const auto& c : outcomes) {
      reporter.result(info, c.run, c.judgement);
      count(tally, c.judgement);
      tally.capture_drops += c.run.seen.capture_drops;
      tally.rejected += c.run.rejected;
      tally.duplicates += c.run.seen.duplicates;
    }
    (void)cli::interrupted();  // a reader gone (EPIPE) becomes the Ctrl-C the library sees
  };
  auto ran = tcpkit::run_stray_cases(o.cases, target, sender, cli::interrupt_fd(), report);
  return ran ? cli::kExitPositive : fail_with(ran.error());
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
