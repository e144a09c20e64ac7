// tcpprobe: time TCP handshakes, like ping for TCP.
#include <CLI/CLI.hpp>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpprobe/options.hpp"

namespace {

constexpr const char* kTool = "tcpprobe";

// Converts a validator's Result into the CLI11 error text (empty = fine).
template <class T>
std::string check(const tcpkit::Result<T>& r) {
  return r ? std::string() : r.error().message;
}

int parse_and_run(int argc, char** argv) {
  tcpprobe::Options o;
  CLI::App app{"tcpprobe - time TCP handshakes (SYN -> SYN/ACK), like ping for TCP.\n"
               "Exit status: 0 every target answered SYN/ACK, 1 some target never did, 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  app.get_formatter()->column_width(34);
  std::vector<std::string> target_texts;
  std::string mode = "auto", count, interval, timeout, deadline, port, sport, source;
  bool v4 = false, v6 = false, json = false, csv = false;
  int ttl = -1;
  app.add_option("targets", target_texts, "host, host:port, host:service, [v6addr]:port or a bare IPv6 address")
      ->required()
      ->type_name("TARGET...");
  app.add_option("-m,--mode", mode, "syn (raw, needs CAP_NET_RAW), connect (unprivileged), auto (default)")
      ->check(CLI::IsMember({"auto", "syn", "connect"}));
  app.add_option("-c,--count", count, "stop after COUNT probes per target (default: until Ctrl-C or -w)")->type_name("COUNT");
  app.add_option("-i,--interval", interval, "time between probes: 1 (s), 0.2, 250ms, 500us (default 1s)")->type_name("TIME");
  app.add_option("-W,--timeout", timeout, "how long to wait for each answer (default 1s)")->type_name("TIME");
  app.add_option("-w,--deadline", deadline, "stop after TIME in all, whatever the count")->type_name("TIME");
  app.add_option("-p,--port", port, "port (or service) for targets that name none (default 80)")->type_name("PORT");
  app.add_option("-s,--source-port", sport, "fixed source port (default: a fresh reserved port per probe)")->type_name("PORT");
  app.add_option("-S,--source", source, "source address")->type_name("ADDR");
  app.add_option("-I,--interface", o.interface, "send and capture through this interface (the zone of a link-local target)")->type_name("IFACE");
  app.add_flag("-4", v4, "IPv4 only");
  app.add_flag("-6", v6, "IPv6 only");
  app.add_option("--ttl", ttl, "TTL / hop limit of the SYN (1-255)")->check(CLI::Range(1, 255));
  app.add_flag("-D,--timestamp", o.wall_clock, "print the wall-clock time before each line");
  app.add_flag("-q,--quiet", o.quiet, "print only the summary");
  app.add_flag("--json", json, "JSON Lines: one object per probe, then a summary object per target");
  app.add_flag("--csv", csv, "CSV with a header row");
  std::string close = "local", close_wait;
  app.add_flag("--trace", o.trace, "open one connection and show its handshake and close segment by segment");
  app.add_option("--close", close, "--trace: who closes: local (we send the first FIN), peer (we wait for the server's), reset (RST)")
      ->check(CLI::IsMember({"local", "peer", "reset"}));
  app.add_option("--send", o.send_data, "--trace: write DATA once the handshake is done")->type_name("DATA");
  app.add_flag("--absolute", o.absolute, "--trace: raw sequence numbers instead of relative ones");
  app.add_option("--close-wait", close_wait, "--trace --close peer: how long to wait for the server's FIN (default 5s)")
      ->type_name("TIME");
  app.set_version_flag("--version", "tcpprobe 0.1.0");

  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;

  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  // Given, even as an empty string: "-c ''" is bad input, not "no count".
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (auto m = tcpkit::cli::choose_family(v4, v6, o.family); !m.empty()) return usage(m);
  if (auto m = tcpkit::cli::choose_format(json, csv, o.format); !m.empty()) return usage(m);
  o.mode = mode == "syn" ? tcpprobe::Mode::syn : mode == "connect" ? tcpprobe::Mode::connect : tcpprobe::Mode::automatic;
  if (ttl > 0) o.ttl = uint8_t(ttl);
  if (given("--count")) {
    auto c = tcpkit::cli::parse_count(count, 1'000'000'000);
    if (!c) return usage("--count: " + c.error().message);
    o.count = *c;
  }
  if (given("--interval")) {
    auto d = tcpkit::cli::parse_duration(interval);
    if (!d) return usage("--interval: " + d.error().message);
    if (d->count() < 10) return usage("interval '" + interval + "' is too short: the minimum is 10us");
    o.interval = *d;
  }
  if (given("--timeout")) {
    auto d = tcpkit::cli::parse_duration(timeout);
    if (!d) return usage("--timeout: " + d.error().message);
    if (d->count() <= 0) return usage("--timeout '" + timeout + "': must be greater than zero");
    o.timeout = *d;
  }
  if (given("--deadline")) {
    auto d = tcpkit::cli::parse_duration(deadline);
    if (!d) return usage("--deadline: " + d.error().message);
    if (d->count() <= 0) return usage("--deadline '" + deadline + "': must be greater than zero");
    o.deadline = *d;
  }
  if (given("--port")) {
    auto p = tcpkit::parse_port(port);
    if (!p) return usage("--port: " + p.error().message);
    o.port = *p;
  }
  if (given("--source-port")) {
    auto p = tcpkit::parse_port(sport);
    if (!p) return usage("--source-port: " + p.error().message);
    o.source_port = *p;
  }
  if (given("--source")) {
    auto a = tcpkit::IpAddress::parse(source);
    if (!a) return usage("invalid --source address '" + source + "'");
    o.source = *a;
  }
  o.close = close == "peer" ? tcpkit::CloseMode::peer : close == "reset" ? tcpkit::CloseMode::reset : tcpkit::CloseMode::local;
  if (given("--close-wait")) {
    auto d = tcpkit::cli::parse_duration(close_wait);
    if (!d) return usage("--close-wait: " + d.error().message);
    o.close_wait = *d;
  }
  if (!o.trace && (app.count("--close") || app.count("--send") || o.absolute || app.count("--close-wait")))
    return usage("--close, --send, --absolute and --close-wait go with --trace");
  if (o.trace && target_texts.size() != 1) return usage("--trace follows one connection: give exactly one target");
  if (o.trace && (count.size() || interval.size() || o.mode != tcpprobe::Mode::automatic))
    return usage("--trace opens one connection: -c, -i and --mode do not apply");
  for (const auto& t : target_texts) {
    auto spec = tcpkit::parse_target(t);
    if (!spec) return usage(spec.error().message);
    o.targets.push_back(std::move(*spec));
  }
  return o.trace ? tcpprobe::run_trace(o) : tcpprobe::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
