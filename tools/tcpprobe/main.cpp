// tcpprobe: time TCP handshakes, like ping for TCP.
#include <CLI/CLI.hpp>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpprobe/options.hpp"

namespace {

constexpr const char* kTool = "tcpprobe";
// A bound against typos, not a limit anyone meets: 10^9 probes at the shortest interval take
// almost three hours.
constexpr long long kMaxCount = 1'000'000'000;
// Shorter intervals would time our own send loop more than the network (man page: "The
// minimum is 10us").
constexpr long long kMinIntervalUs = 10;
// --help's flag column: the longest flag with its value name fits, the text starts aligned.
constexpr unsigned kHelpFlagColumn = 34;

// The flags as typed, before they are checked and turned into Options.
struct Flags {
  std::vector<std::string> targets;
  std::string mode = "auto", count, interval, timeout, deadline, port, sport, source, close = "local", close_wait;
  bool v4 = false, v6 = false, json = false, csv = false, no_ack_check = false;
  int ttl = -1;
};

void add_flags(CLI::App& app, tcpprobe::Options& o, Flags& f) {
  app.add_option("targets", f.targets, "host, host:port, host:service, [v6addr]:port or a bare IPv6 address")
      ->required()
      ->type_name("TARGET...");
  app.add_option("-m,--mode", f.mode, "syn (raw, needs CAP_NET_RAW), connect (unprivileged), auto (default)")
      ->check(CLI::IsMember({"auto", "syn", "connect"}));
  app.add_option("-c,--count", f.count, "stop after COUNT probes per target (default: until Ctrl-C or -w)")->type_name("COUNT");
  app.add_option("-i,--interval", f.interval, "time between probes: 1 (s), 0.2, 250ms, 500us (default 1s)")->type_name("TIME");
  app.add_option("-W,--timeout", f.timeout, "how long to wait for each answer (default 1s)")->type_name("TIME");
  app.add_option("-w,--deadline", f.deadline, "stop after TIME in all, whatever the count")->type_name("TIME");
  app.add_option("-p,--port", f.port, "port (or service) for targets that name none (default 80)")->type_name("PORT");
  app.add_option("-s,--source-port", f.sport, "fixed source port (default: a fresh reserved port per probe)")->type_name("PORT");
  app.add_option("-S,--source", f.source, "source address")->type_name("ADDR");
  app.add_option("-I,--interface", o.interface, "send and capture through this interface (the zone of a link-local target)")->type_name("IFACE")->check(tcpkit::cli::kNonEmpty);
  app.add_flag("-4", f.v4, "IPv4 only");
  app.add_flag("-6", f.v6, "IPv6 only");
  app.add_option("--ttl", f.ttl, "TTL / hop limit of the SYN (1-255)")->check(CLI::Range(1, 255));
  app.add_flag("-D,--timestamp", o.wall_clock, "print the wall-clock time before each line");
  app.add_flag("-q,--quiet", o.quiet, "print only the summary");
  app.add_flag("--no-ack-check", f.no_ack_check,
               "when no SYN drew any answer, do not send the one ACK that tells a stack dropping SYNs from a firewall");
  app.add_flag("--json", f.json, "JSON Lines: one object per probe, then a summary object per target");
  app.add_flag("--csv", f.csv, "CSV with a header row");
  app.add_flag("--trace", o.trace, "open one connection and show its handshake and close segment by segment");
  app.add_option("--close", f.close, "--trace: who closes: local (we send the first FIN), peer (we wait for the server's), reset (RST)")
      ->check(CLI::IsMember({"local", "peer", "reset"}));
  app.add_option("--send", o.send_data, "--trace: write DATA once the handshake is done")->type_name("DATA");
  app.add_flag("--absolute", o.absolute, "--trace: raw sequence numbers (SACK blocks and notes too) instead of relative ones");
  app.add_option("--close-wait", f.close_wait, "--trace --close peer: how long to wait for the server's FIN (default 5s)")
      ->type_name("TIME");
  app.set_version_flag("--version", "tcpprobe 0.1.0");
}

// Given, even as an empty string: "-c ''" is bad input, not "no count".
bool given(const CLI::App& app, const char* flag) { return app.count(flag) > 0; }

// A duration flag that must be more than zero (--timeout, --deadline). Returns the usage message, or "".
std::string take_positive_duration(const char* flag, const std::string& text, std::chrono::microseconds& out) {
  auto d = tcpkit::cli::parse_duration(text);
  if (!d) return std::string(flag) + ": " + d.error().message;
  if (d->count() <= 0) return std::string(flag) + " '" + text + "': must be greater than zero";
  out = *d;
  return "";
}

// Counts, times, ports and the source address. Returns the usage message, or "".
std::string take_numbers(const CLI::App& app, const Flags& f, tcpprobe::Options& o) {
  if (f.ttl > 0) o.ttl = uint8_t(f.ttl);
  if (given(app, "--count")) {
    auto c = tcpkit::cli::parse_count(f.count, kMaxCount);
    if (!c) return "--count: " + c.error().message;
    o.count = *c;
  }
  if (given(app, "--interval")) {
    auto d = tcpkit::cli::parse_duration(f.interval);
    if (!d) return "--interval: " + d.error().message;
    if (d->count() < kMinIntervalUs) return "interval '" + f.interval + "' is too short: the minimum is 10us";
    o.interval = *d;
  }
  if (given(app, "--timeout"))
    if (auto m = take_positive_duration("--timeout", f.timeout, o.timeout); !m.empty()) return m;
  if (given(app, "--deadline")) {
    std::chrono::microseconds deadline{};
    if (auto m = take_positive_duration("--deadline", f.deadline, deadline); !m.empty()) return m;
    o.deadline = deadline;
  }
  if (given(app, "--port")) {
    auto p = tcpkit::parse_port(f.port);
    if (!p) return "--port: " + p.error().message;
    o.port = *p;
  }
  if (given(app, "--source-port")) {
    auto p = tcpkit::parse_port(f.sport);
    if (!p) return "--source-port: " + p.error().message;
    o.source_port = *p;
  }
  if (given(app, "--source")) {
    auto a = tcpkit::IpAddress::parse(f.source);
    if (!a) return "invalid --source address '" + f.source + "'";
    // Checked now, before the header line: a source not on this host can send nothing.
    if (!a->is_link_local())
      if (auto held = tcpkit::reserve_port(*a); !held && held.error().code == tcpkit::ErrorCode::bad_input)
        return held.error().message;
    o.source = *a;
  }
  return "";
}

// --trace and the flags that go with it only. Returns the usage message, or "".
std::string take_trace(const CLI::App& app, const Flags& f, tcpprobe::Options& o) {
  o.close = f.close == "peer" ? tcpkit::CloseMode::peer : f.close == "reset" ? tcpkit::CloseMode::reset : tcpkit::CloseMode::local;
  if (given(app, "--close-wait")) {
    auto d = tcpkit::cli::parse_duration(f.close_wait);
    if (!d) return "--close-wait: " + d.error().message;
    o.close_wait = *d;
  }
  if (!o.trace && (app.count("--close") || app.count("--send") || o.absolute || app.count("--close-wait")))
    return "--close, --send, --absolute and --close-wait go with --trace";
  if (o.trace && f.targets.size() != 1) return "--trace follows one connection: give exactly one target";
  if (o.trace && (f.count.size() || f.interval.size() || o.mode != tcpprobe::Mode::automatic))
    return "--trace opens one connection: -c, -i and --mode do not apply";
  // A traced connection with a short TTL never completes: the trace would show nothing of it
  // (the option was silently ignored). tcppath is the tool for TTLs.
  if (o.trace && app.count("--ttl")) return "--ttl does not apply to --trace (to see where a SYN stops, use tcppath)";
  return "";
}

// Opens like tcpstate's parse_and_run (duplicates pairs them by shape): the help text and column
// width are each tool's own; the shared steps are already cli::parse_command_line and friends.
int parse_and_run(int argc, char** argv) {
  tcpprobe::Options o;
  Flags f;
  CLI::App app{"tcpprobe - time TCP handshakes (SYN -> SYN/ACK), like ping for TCP.\n"
               "Exit status: 0 every target answered SYN/ACK, 1 some target never did, 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  app.get_formatter()->column_width(kHelpFlagColumn);
  add_flags(app, o, f);
  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;

  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  if (auto m = tcpkit::cli::choose_family(f.v4, f.v6, o.family); !m.empty()) return usage(m);
  o.ack_check = !f.no_ack_check;
  if (auto m = tcpkit::cli::choose_format(f.json, f.csv, o.format); !m.empty()) return usage(m);
  o.mode = f.mode == "syn" ? tcpprobe::Mode::syn : f.mode == "connect" ? tcpprobe::Mode::connect : tcpprobe::Mode::automatic;
  if (auto m = take_numbers(app, f, o); !m.empty()) return usage(m);
  if (auto m = take_trace(app, f, o); !m.empty()) return usage(m);
  for (const auto& t : f.targets) {
    auto spec = tcpkit::parse_target(t);
    if (!spec) return usage(spec.error().message);
    tcpkit::cli::warn_port_lookalike(kTool, *spec);
    o.targets.push_back(std::move(*spec));
  }
  return o.trace ? tcpprobe::run_trace(o) : tcpprobe::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
