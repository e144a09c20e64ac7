// Runs tcppath: resolves and routes the target, traces, reports, and turns the stop point into
// the exit code.
#include <algorithm>
#include <future>
#include <optional>
#include <vector>

#include "common/cli_common.hpp"
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

// --flows N: N traces at once, each over a flow of its own (trace_path reserves a source port
// for each), then the multipath view. 0 when every flow reached the destination.
int run_flows(const Options& o, const tcpkit::PathTraceConfig& c, const tcpkit::IpAddress& destination) {
  std::vector<std::future<tcpkit::Result<tcpkit::PathTrace>>> running;
  running.reserve(size_t(o.flows));
  for (int i = 0; i < o.flows; ++i)
    running.push_back(std::async(std::launch::async, [&c] { return tcpkit::trace_path(c, cli::interrupt_fd()); }));
  std::vector<tcpkit::PathTrace> traces;
  std::optional<tcpkit::Error> failed;
  for (auto& f : running) {
    auto t = f.get();
    if (!t) {
      if (!failed) failed = t.error();
      continue;
    }
    traces.push_back(std::move(*t));
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
  auto route = tcpkit::route_to(destination, o.source, o.interface);
  if (!route) return fail_with(route.error());
  tcpkit::PathTraceConfig c;
  c.destination = destination;
  c.port = o.target.port.value_or(o.port.value_or(kDefaultPort));
  c.route = *route;
  c.max_hops = o.max_hops;
  c.queries = o.queries;
  c.wait = std::chrono::duration_cast<std::chrono::milliseconds>(o.wait);
  c.syn_options = o.syn_options;
  c.ecn = o.ecn;
  if (o.flows > 1) return run_flows(o, c, destination);
  auto trace = tcpkit::trace_path(c, cli::interrupt_fd());
  if (!trace) return fail_with(trace.error());
  const bool interrupted = cli::interrupted();
  report(*trace, destination, c.port, o.format, interrupted, o.numeric || interrupted ? Names{} : router_names({*trace}));
  return trace->summary.stop == tcpkit::PathStop::reached ? cli::kExitPositive : cli::kExitNegative;
}

}  // namespace tcppath
