// Runs tcppath: resolves and routes the target, traces, reports, and turns the stop point into
// the exit code.

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <vector>

#include "common/cli_common.hpp"
#include "common/target_zone.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/probe/path_flows.hpp"
#include "tcpkit/probe/path_trace.hpp"
#include "tcpkit/wire/reverse_names.hpp"
#include "tcppath/options.hpp"
#include "tcppath/path_report.hpp"

namespace tcppath {

namespace {
constexpr const char* kTool = "tcppath";
constexpr uint16_t kDefaultPort = 80;
namespace cli = tcpkit::cli;

// Reverse lookups of every router (all at once), as traceroute shows them: at most this long,
// after which a name not back yet is left out.
constexpr std::chrono::milliseconds kNamesBudget{1000};

Names router_names(const std::vector<tcpkit::PathTrace>& traces) {
  std::vector<tcpkit::IpAddress> routers;
  for (const auto& t : traces)
    for (const auto& h : t.hops)
      if (h.answer.router && std::find(routers.begin(), routers.end(), *h.answer.router) == routers.end())
        routers.push_back(*h.answer.router);
  const auto names = tcpkit::reverse_names(routers, kNamesBudget);
  Names out;
  for (size_t i = 0; i < routers.size(); ++i)
    if (names[i]) out[routers[i]] = *names[i];
  return out;
}

int fail_with(const tcpkit::Error& e) {
  cli::print_error(kTool, e.code == tcpkit::ErrorCode::privilege ? e.message + "; " + cli::net_raw_hint(kTool) : e.message);
  return cli::exit_code_for(e);
}

// A router's ICMP budget refills at about one answer a second (Linux, per source).
constexpr auto kRefillPerAnswer = std::chrono::seconds(1);
// The flows of a wave send one after another, this far apart: a router meets one flow's probes
// at a time. Sent all at once, several CPUs could race on its lockless budget and deny an answer
// it had: the likely cause of hop 1 one answer short, seen twice in CI.
constexpr auto kFlowGap = std::chrono::milliseconds(2);

// --flows N: N traces, each over a flow of its own (trace_path reserves a source port for
// each), then the multipath view. 0 when every flow reached the destination. Each flow asks
// every router for q answers: the flows go in waves that fit a router's burst (--router-burst),
// each wave once the routers' budgets refilled after the last, so that no hop goes silent
// because of us; within a wave the flows send in turns, kFlowGap apart.
int run_flows(const Options& o, const tcpkit::PathTraceConfig& c, const tcpkit::IpAddress& destination) {
  const int per_wave = std::max(1, o.router_burst / o.queries);
  const int waves = (o.flows + per_wave - 1) / per_wave;
  const auto gap = kRefillPerAnswer * (per_wave * o.queries);
  if (waves > 1)
    cli::print_warning(kTool, std::to_string(o.flows) + " flows in " + std::to_string(waves) + " waves of " +
                                  std::to_string(per_wave) + ", " + std::to_string(gap.count()) +
                                  " s apart: routers answer a burst of about " + std::to_string(o.router_burst) +
                                  " (--router-burst), then about one a second");
  tcpkit::SendTurns turns(kFlowGap);
  tcpkit::PathTraceConfig shared = c;
  shared.turns = &turns;
  std::random_device rd;
  const auto flows = tcpkit::flow_configs(shared, o.flows, uint16_t(rd()));
  std::vector<tcpkit::PathTrace> traces;
  std::optional<tcpkit::Error> failed;
  for (int started = 0; started < o.flows && !failed && !cli::interrupted();) {
    std::vector<std::future<tcpkit::Result<tcpkit::PathTrace>>> running;
    for (int i = 0; i < per_wave && started < o.flows; ++i, ++started) {
      const tcpkit::PathTraceConfig& flow = flows[size_t(started)];
      running.push_back(std::async(std::launch::async, [&flow] { return tcpkit::trace_path(flow, cli::interrupt_fd()); }));
    }
    for (auto& f : running) {
      auto t = f.get();
      if (!t) {
        if (!failed) failed = t.error();
        continue;
      }
      traces.push_back(std::move(*t));
    }
    // From the wave's end, not its start: a router's budget refills from its last answer, which
    // came after the wave's sends (under load, late enough that a gap from the start left the
    // next wave one answer short at hop 1).
    if (started < o.flows && !cli::sleep_until(std::chrono::steady_clock::now() + gap)) break;
  }
  if (failed) return fail_with(*failed);
  const auto summary = tcpkit::summarize_flows(traces);
  const bool interrupted = cli::interrupted();
  report_flows(traces, summary, destination, c.port, o.format, interrupted,
               o.numeric || interrupted ? Names{} : router_names(traces));
  return summary.reached == summary.flows ? cli::kExitPositive : cli::kExitNegative;
}
}  // namespace

int run(const Options& o) {
  cli::install_interrupt_handler();
  auto family = o.source ? o.source->family() : o.family;
  auto addresses = tcpkit::resolve_host(o.target.host, family);
  if (!addresses) return fail_with(addresses.error());
  const tcpkit::IpAddress destination = addresses->front();
  if (!cli::has_cap_net_raw()) {
    cli::print_error(kTool, cli::net_raw_hint(kTool));
    return cli::kExitPrivilege;
  }
  // A link-local target's zone is its interface, as -I is (found: exit 4, "reserve a source port
  // on fe80::...: Invalid argument", with or without either).
  std::string interface = o.interface;
  if (!o.target.zone.empty()) {
    auto zoned = cli::zone_interface(o.target.text, o.target.zone, interface);
    if (!zoned) return fail_with(zoned.error());
    interface = *zoned;
  }
  if (auto ok = cli::require_link_interface(o.target.text, destination, interface); !ok) return fail_with(ok.error());
  auto route = tcpkit::route_to(destination, o.source, interface);
  if (!route) return fail_with(route.error());
  tcpkit::PathTraceConfig c;
  c.bind_interface = !interface.empty();
  c.destination = destination;
  c.port = o.target.port.value_or(o.port.value_or(kDefaultPort));
  c.route = *route;
  c.max_hops = o.max_hops;
  c.queries = o.queries;
  c.wait = std::chrono::duration_cast<std::chrono::milliseconds>(o.wait);
  c.syn_options = o.syn_options;
  // A TSval base of our own, unless the user chose one: a quote whose IP ID and seq were both
  // rewritten is still paired by its TSval, and never with another run's probes (they would
  // all count from 1).
  if (const auto ts = c.syn_options.timestamps(); ts && !o.tsval_given)
    c.syn_options.set_timestamps(uint32_t(std::random_device{}()), ts->second);
  c.ecn = o.ecn;
  if (o.flows > 1) return run_flows(o, c, destination);
  auto trace = tcpkit::trace_path(c, cli::interrupt_fd());
  if (!trace) return fail_with(trace.error());
  const bool interrupted = cli::interrupted();
  report(*trace, destination, c.port, o.format, interrupted, o.numeric || interrupted ? Names{} : router_names({*trace}));
  return trace->summary.stop == tcpkit::PathStop::reached ? cli::kExitPositive : cli::kExitNegative;
}

}  // namespace tcppath
