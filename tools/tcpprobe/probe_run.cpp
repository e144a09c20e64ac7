// Runs tcpprobe: picks the mode, prepares every target, probes them concurrently (one
// thread each) and turns the outcomes into the exit code.
#include <sys/resource.h>

#include <atomic>
#include <thread>

#include "common/cli_common.hpp"
#include "tcpkit/probe/connect_probe.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/probe/syn_probe.hpp"
#include "tcpprobe/options.hpp"
#include "tcpprobe/probe_report.hpp"
#include "tcpprobe/targets.hpp"

namespace tcpprobe {

namespace {

constexpr const char* kTool = "tcpprobe";
using Clock = std::chrono::steady_clock;
namespace cli = tcpkit::cli;

struct Outcome {
  bool any_open = false;
  std::optional<tcpkit::Error> error;
};

void account(TargetStats& stats, const tcpkit::ProbeReply& reply) {
  switch (reply.outcome) {
    case tcpkit::ProbeOutcome::open: ++stats.open; break;
    case tcpkit::ProbeOutcome::closed: ++stats.closed; break;
    case tcpkit::ProbeOutcome::filtered:
      ++stats.filtered;
      if (reply.unsent) ++stats.unsent;
      break;
    case tcpkit::ProbeOutcome::unreachable: ++stats.unreachable; break;
  }
  const bool from_target = reply.outcome == tcpkit::ProbeOutcome::open || reply.outcome == tcpkit::ProbeOutcome::closed;
  if (reply.syn_retransmits) ++stats.retried;
  if (reply.syn_ack_resent_after_s) ++stats.syn_ack_resent;
  if (from_target && reply.rtt_ns && !reply.syn_retransmits && !reply.syn_ack_resent_after_s) {
    stats.rtt_ms.add(double(*reply.rtt_ns) / 1e6);
    if (reply.timestamps == tcpkit::TimestampSource::user) stats.user_timestamps = true;
  }
  // A retried probe's kernel RTT may be the peer's SYN/ACK timeout (its first SYN/ACK lost):
  // left out with its rtt (found: kernel rtt avg 320 ms beside an rtt avg of 51 ms).
  if (reply.kernel_rtt_us && !reply.syn_retransmits) stats.kernel_rtt_ms.add(*reply.kernel_rtt_us / 1000.0);
  if (reply.held_by) ++stats.held;
  if (reply.held_unanswered) ++stats.held_unanswered;
  // The SYN/ACK's window is known in syn mode only (connect mode sets connect_ns).
  if (reply.outcome == tcpkit::ProbeOutcome::open && !reply.held_by && !reply.connect_ns && reply.window == 0 &&
      !reply.split_handshake)
    ++stats.zero_window;
  if (reply.reset_after_handshake) ++stats.reset_at_once;
}

// When SYNs were sent and none drew any answer at all, one ACK to the port tells a stack that
// drops only SYNs (a full accept queue) from a firewall (raw sockets: skipped without them).
// Answers that came after -W are answers: the host is there, and the summary says so.
void ack_check(const Options& o, const Target& t, TargetStats& stats) {
  // SYNs that never left say all there is: an ACK would wait for the same neighbour.
  if (!o.ack_check || stats.filtered == 0 || stats.answered() > 0 || stats.late > 0 || stats.interrupted ||
      stats.unsent == uint64_t(stats.filtered) || !cli::has_cap_net_raw())
    return;
  stats.ack_check = ack_check_target(o, t);
}

Outcome probe_syn(const Options& o, const Target& t, tcpkit::SynProber& prober, Reporter& reporter) {
  Outcome outcome;
  TargetStats stats;
  const auto start = Clock::now();
  const auto stop_at = o.deadline ? start + *o.deadline : Clock::time_point::max();
  auto next_send = start;
  long long sent = 0;
  while (!cli::interrupted()) {
    const auto now = Clock::now();
    if (now >= stop_at) break;
    const bool more = !o.count || sent < *o.count;
    if (more && now >= next_send) {
      if (auto r = prober.send(uint64_t(++sent), now + o.timeout); !r) {
        outcome.error = r.error();
        break;
      }
      ++stats.sent;
      next_send += o.interval;
      continue;
    }
    if (!more && prober.outstanding() == 0) break;
    const auto until = std::min(more ? next_send : Clock::time_point::max(), stop_at);
    auto replies = prober.collect(until, cli::interrupt_fd());
    if (!replies) {
      outcome.error = replies.error();
      break;
    }
    for (const auto& reply : *replies) {
      if (!reply.duplicate) account(stats, reply);  // counted by the prober, shown as such
      reporter.probe(t.info, reply, o.timeout);
    }
  }
  stats.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  stats.interrupted = cli::interrupted();
  stats.capture_drops = prober.capture_drops();
  stats.bad_checksum = prober.bad_checksums();
  stats.rejected = prober.rejected();
  stats.duplicates = prober.duplicates();
  stats.conflicting = prober.conflicting();
  stats.late = prober.late();
  stats.unmatched_rst = prober.unmatched_rsts();
  ack_check(o, t, stats);
  reporter.summary(t.info, stats);
  outcome.any_open = stats.open > 0;
  return outcome;
}

Outcome probe_connect(const Options& o, const Target& t, Reporter& reporter) {
  Outcome outcome;
  TargetStats stats;
  tcpkit::ConnectProbeConfig config;
  config.destination = t.info.address;
  config.port = t.info.port;
  config.source = o.source;
  config.interface = t.interface;
  config.source_port = o.source_port;
  config.ttl = o.ttl;
  const auto start = Clock::now();
  const auto stop_at = o.deadline ? start + *o.deadline : Clock::time_point::max();
  auto next_send = start;
  long long sent = 0;
  while (!cli::interrupted() && (!o.count || sent < *o.count)) {
    const auto now = Clock::now();
    if (now >= stop_at) break;
    config.timeout = o.timeout;
    if (stop_at != Clock::time_point::max())
      config.timeout = std::min(o.timeout, std::chrono::duration_cast<std::chrono::microseconds>(stop_at - now));
    auto reply = tcpkit::connect_probe(config, uint64_t(++sent), cli::interrupt_fd());
    if (!reply) {
      outcome.error = reply.error();
      break;
    }
    ++stats.sent;
    if (cli::interrupted() && reply->outcome == tcpkit::ProbeOutcome::filtered) break;  // cut short, not lost
    account(stats, *reply);
    reporter.probe(t.info, *reply, o.timeout);
    next_send += o.interval;
    if (!o.count || sent < *o.count) (void)cli::sleep_until(std::min(next_send, stop_at));
  }
  stats.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  stats.interrupted = cli::interrupted();
  ack_check(o, t, stats);
  reporter.summary(t.info, stats);
  outcome.any_open = stats.open > 0;
  return outcome;
}

// Each outstanding raw probe holds a reserved port (one descriptor): allow many in flight.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Raw SYNs or connect(): --mode auto takes SYNs where CAP_NET_RAW allows. nullopt (the error
// printed) when --mode syn lacks the privilege.
std::optional<bool> use_syn(const Options& o) {
  if (o.mode == Mode::syn && !cli::has_cap_net_raw()) {
    cli::print_error(kTool, "--mode syn: " + cli::net_raw_hint(kTool));
    return std::nullopt;
  }
  if (o.mode != Mode::automatic) return o.mode == Mode::syn;
  const bool syn = cli::has_cap_net_raw();
  if (!syn)
    cli::print_error(kTool, "no CAP_NET_RAW: falling back to connect() mode (user-space timing; for raw SYN "
                            "probes with kernel timestamps run as root or 'sudo setcap cap_net_raw+ep $(command -v tcpprobe)')");
  return syn;
}

// Every target resolved and routed, or the exit code of the first that is not (error printed).
std::optional<int> prepare_targets(const Options& o, bool syn, std::vector<Target>& targets) {
  for (const auto& spec : o.targets) {
    auto t = prepare_target(o, spec, syn);
    if (!t) {
      cli::print_error(kTool, t.error().message);
      return cli::exit_code_for(t.error());
    }
    t->info.mode = syn ? "syn" : "connect";
    targets.push_back(std::move(*t));
  }
  return std::nullopt;
}

// Every raw prober opened before the first probe, so a privilege or system failure stops the
// run cleanly instead of half-way; the exit code of the first that fails (error printed).
// -s: the port is held for the run on each source address, as each probe's own port is
// otherwise (found: an application's connection, or a second tcpprobe -s, on the same port pair
// drew challenge ACKs read as filtered). One in use is refused; one below 1024 that this process
// may not bind (no CAP_NET_BIND_SERVICE) is used unheld, as before.
std::optional<int> hold_fixed_port(const Options& o, const std::vector<Target>& targets,
                                   std::vector<tcpkit::UniqueFd>& held) {
  if (!o.source_port) return std::nullopt;
  std::vector<tcpkit::PortSource> sources;
  sources.reserve(targets.size());
  for (const auto& t : targets)
    sources.push_back({t.route.source, t.route.source.is_link_local() ? uint32_t(t.route.interface_index) : 0u});
  auto r = tcpkit::hold_port(sources, *o.source_port);
  if (!r) {
    cli::print_error(kTool, r.error().message);
    return cli::exit_code_for(r.error());
  }
  held = std::move(*r);
  return std::nullopt;
}

std::optional<int> open_probers(const Options& o, const std::vector<Target>& targets,
                                std::vector<std::optional<tcpkit::SynProber>>& probers) {
  for (size_t i = 0; i < targets.size(); ++i) {
    tcpkit::SynProbeConfig config;
    config.destination = targets[i].info.address;
    config.port = targets[i].info.port;
    config.route = targets[i].route;
    config.bind_interface = !targets[i].interface.empty();
    config.source_port = o.source_port;
    if (o.ttl) config.ttl = *o.ttl;
    auto prober = tcpkit::SynProber::open(config);
    if (!prober) {
      if (prober.error().code == tcpkit::ErrorCode::privilege)
        cli::print_error(kTool, prober.error().message + "; " + cli::net_raw_hint(kTool));
      else
        cli::print_error(kTool, prober.error().message);
      return cli::exit_code_for(prober.error());
    }
    probers[i].emplace(std::move(*prober));
  }
  return std::nullopt;
}

// The worst of the outcomes: an error's code (printed here), else negative when no target was open.
int exit_code(const std::vector<Outcome>& outcomes) {
  int code = cli::kExitPositive;
  for (const auto& outcome : outcomes) {
    if (outcome.error) {
      cli::print_error(kTool, outcome.error->message);
      code = std::max(code, cli::exit_code_for(*outcome.error));
    } else if (!outcome.any_open && code == cli::kExitPositive) {
      code = cli::kExitNegative;
    }
  }
  return code;
}

}  // namespace

int run(const Options& o) {
  cli::install_interrupt_handler();
  raise_descriptor_limit();
  const auto chosen = use_syn(o);
  if (!chosen) return cli::kExitPrivilege;
  const bool syn = *chosen;

  std::vector<Target> targets;
  if (const auto failed = prepare_targets(o, syn, targets)) return *failed;
  std::vector<std::optional<tcpkit::SynProber>> probers(targets.size());
  std::vector<tcpkit::UniqueFd> held_port;  // -s, to the end of the run
  if (syn) {
    if (const auto failed = hold_fixed_port(o, targets, held_port)) return *failed;
    if (const auto failed = open_probers(o, targets, probers)) return *failed;
  }

  Reporter reporter(o.format, o.quiet, o.wall_clock);
  for (const auto& t : targets) reporter.header(t.info);
  std::vector<Outcome> outcomes(targets.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < targets.size(); ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = syn ? probe_syn(o, targets[i], *probers[i], reporter) : probe_connect(o, targets[i], reporter);
    });
  }
  for (auto& thread : threads) thread.join();
  return exit_code(outcomes);
}

}  // namespace tcpprobe
