// tcpstate: list TCP connection states and answer the usual questions (TIME_WAIT per peer,
// SYN flood signs, CLOSE_WAIT leaks) from the kernel, /proc, or saved ss/netstat text.
#include <CLI/CLI.hpp>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpstate/options.hpp"

namespace {

constexpr const char* kTool = "tcpstate";
// Help's flag column: wide enough for the longest flag with its value name.
constexpr size_t kFlagColumn = 36;
// --watch's shortest interval (its usage error says 0.1 s).
constexpr std::chrono::microseconds kMinWatchInterval{100'000};

// "a,b" "c" -> {"a", "b", "c"}: list flags may be repeated and comma-separated. An empty value
// or item ('', "a,,b") is bad input, not "no filter": an unset shell variable must not widen a
// filter to everything. Returns the usage message, or "".
std::string split_list(const char* flag, const std::vector<std::string>& values, std::vector<std::string>& out) {
  for (const auto& v : values) {
    size_t start = 0;
    for (;;) {
      const size_t comma = v.find(',', start);
      std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item.empty()) return std::string(flag) + ": empty " + (v.empty() ? "value" : "item in '" + v + "'");
      out.push_back(std::move(item));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return "";
}

// --sport/--dport take the port lists tcpscan -p takes (22,80,8000-8100, ssh, 60000-), checked
// by the same parser; each run of ports becomes one range. Returns the usage message, or "".
std::string take_ports(const char* flag, const std::vector<std::string>& values, std::vector<tcpkit::PortRange>& out) {
  for (const auto& v : values) {
    auto ports = tcpkit::parse_port_list(v);
    if (!ports) return std::string(flag) + ": " + ports.error().message;
    for (const auto& [low, high] : tcpkit::port_runs(*ports)) out.push_back({low, high});
  }
  return "";
}

// The flags as typed, before they are checked and turned into Options.
struct Flags {
  std::string report = "list", source = "netlink", from, from_ss, from_netstat, from_state, by, top, watch, count, interval,
              syn_recv_by, flood, explain, duration, diagram;
  std::vector<std::string> states, sports, dports, srcs, dsts, maxes;
  bool v4 = false, v6 = false, listening = false, json = false, csv = false, prom = false, life = false;
};

void add_flags(CLI::App& app, tcpstate::Options& o, Flags& f) {
  app.add_option("report", f.report,
                 "list (default), time-wait, syn-flood, close-wait, or follow (every state change live, eBPF)")
      ->check(CLI::IsMember({"list", "time-wait", "syn-flood", "close-wait", "follow"}))
      ->type_name("REPORT");
  app.add_option("--source", f.source, "where live sockets come from: netlink (default) or proc (/proc/net/tcp{,6})")
      ->check(CLI::IsMember({"netlink", "proc"}))
      ->type_name("SRC");
  app.add_option("--from", f.from, "read saved ss or netstat text (format detected); - for stdin")->type_name("FILE");
  app.add_option("--from-ss", f.from_ss, "read saved `ss -tan` output (with any of -o -e -p -i)")->type_name("FILE");
  app.add_option("--from-netstat", f.from_netstat, "read saved `netstat -tan` output (with -o -p -e)")->type_name("FILE");
  app.add_option("--from-state", f.from_state,
                 "the state of every socket of a capture with no State column (`ss -tan state time-wait`)")
      ->type_name("STATE");
  app.add_option("--netns", o.netns, "inspect the network namespace NAME (/run/netns/NAME; needs CAP_SYS_ADMIN)")
      ->type_name("NAME")
      ->check(tcpkit::cli::kNonEmpty);
  app.add_flag("-p,--processes", o.processes, "show the processes owning each socket (from /proc/PID/fd)");
  app.add_flag("-i,--info", o.tcp_info, "show TCP_INFO details: rtt, rto, cwnd, mss, retransmits (netlink)");
  app.add_option("--save-netlink", o.save_netlink, "also save the raw sock_diag reply bytes to FILE (for bug reports)")
      ->type_name("FILE")
      ->check(tcpkit::cli::kNonEmpty);
  app.add_option("--state", f.states,
                 "only these states or groups (all, connected, synchronized, bucket, big); repeat or comma-separate; "
                 "not with -l (--state listening,established for both)")
      ->type_name("STATE");
  app.add_flag("-l,--listening", f.listening, "only listening sockets (not with --state)");
  app.add_flag("-4", f.v4, "IPv4 only");
  app.add_flag("-6", f.v6, "IPv6 only");
  app.add_option("--sport", f.sports, "local ports as tcpscan -p takes them (80, 1024-2048, 22,443, ssh); repeatable")
      ->type_name("PORTS");
  app.add_option("--dport", f.dports, "remote ports, as --sport; repeatable")->type_name("PORTS");
  app.add_option("--src", f.srcs, "local address or CIDR; repeatable")->type_name("CIDR");
  app.add_option("--dst", f.dsts, "remote address or CIDR; repeatable")->type_name("CIDR");
  app.add_flag("--summary", o.summary,
               "a count for each of the 11 states, IPv4 and IPv6; follow: a count for each edge of the state diagram");
  app.add_option("--by", f.by, "top groups with per-state counts: peer, remote-port, local-port or process (a client end's ports as one row, ephemeral)")
      ->check(CLI::IsMember({"peer", "remote-port", "local-port", "process"}))
      ->type_name("KEY");
  app.add_option("--top", f.top, "how many rows the reports and --by show (default 10)")->type_name("N");
  app.add_flag("--check", o.check, "check --max thresholds (and the syn-flood verdict): exit 1 if one is exceeded");
  app.add_option("--max", f.maxes, "a --check threshold STATE=N or total=N, e.g. time-wait=20000; repeatable")->type_name("STATE=N");
  app.add_option("--watch", f.watch, "refresh the per-state counts every SECONDS, with deltas")->type_name("SECONDS");
  app.add_option("-c,--count", f.count, "--watch: stop after N rounds; follow: after N changes (default: until Ctrl-C)")
      ->type_name("N");
  app.add_option("--duration", f.duration, "follow: stop after TIME (e.g. 10s, 500ms; default: until Ctrl-C)")->type_name("TIME");
  app.add_option("--interval", f.interval,
                 "syn-flood: measure counter deltas over TIME (default 1s, 0 to skip); follow --summary: counts every TIME")
      ->type_name("TIME");
  app.add_flag("--life", f.life, "follow: one line per finished connection, its whole path through the states");
  app.add_option("--diagram", f.diagram, "follow: at the end draw the state diagram with what was seen to FILE.svg (Graphviz)")
      ->type_name("FILE");
  app.add_option("--flood-threshold", f.flood, "syn-flood: SYN_RECV total that alone means flood (default 1000)")->type_name("N");
  app.add_option("--syn-recv-by", f.syn_recv_by,
                 "syn-flood: how SYN_RECV is found: queues (each listener's count, by BPF; root), walk (every socket, "
                 "as ss), auto (default: queues on hosts with 50,000 sockets or more)")
      ->check(CLI::IsMember({"auto", "queues", "walk"}))
      ->type_name("HOW");
  app.add_option("--explain", f.explain, "what STATE means, how sockets enter and leave it, what many of them mean")
      ->type_name("STATE");
  app.add_flag("--json", f.json, "JSON Lines: one object per socket/row with a \"type\" field, then a summary object");
  app.add_flag("--csv", f.csv, "CSV with a header row");
  app.add_flag("--prometheus", f.prom, "Prometheus text format (for node_exporter's textfile collector)");
  app.set_version_flag("--version", "tcpstate 0.1.0");
}

// Given, even as an empty string: "--top ''" is bad input, not "the default".
bool given(const CLI::App& app, const char* flag) { return app.count(flag) > 0; }

// Where the sockets come from: a live source or saved text. Returns the usage message, or "".
std::string take_source(const CLI::App& app, const Flags& f, tcpstate::Options& o) {
  const int text_sources = given(app, "--from") + given(app, "--from-ss") + given(app, "--from-netstat");
  if (text_sources > 1) return "--from, --from-ss and --from-netstat exclude each other";
  if (text_sources && given(app, "--source")) return "--source and --from* exclude each other";
  if (given(app, "--from")) o.source = tcpstate::Source::text_autodetect, o.input = f.from;
  else if (given(app, "--from-ss")) o.source = tcpstate::Source::ss_text, o.input = f.from_ss;
  else if (given(app, "--from-netstat")) o.source = tcpstate::Source::netstat_text, o.input = f.from_netstat;
  else o.source = f.source == "proc" ? tcpstate::Source::proc : tcpstate::Source::netlink;
  const bool text = text_sources > 0;
  if (text && o.input.empty()) return "--from, --from-ss or --from-netstat: an empty file name ('-' is standard input)";
  if (given(app, "--from-state")) {
    if (!text || given(app, "--from-netstat")) return "--from-state goes with --from or --from-ss (saved `ss ... state STATE`)";
    o.from_state = tcpkit::parse_tcp_state(f.from_state);
    if (!o.from_state) return "--from-state: one TCP state, e.g. time-wait, established, syn-recv (not '" + f.from_state + "')";
  }
  if (text && !o.netns.empty()) return "--netns applies to live sources, not to saved text";
  if (text && (o.processes || o.tcp_info)) return "-p and -i apply to live sources: saved text has what ss or netstat printed";
  if (o.tcp_info && o.source == tcpstate::Source::proc) return "-i needs the netlink source";
  if (!o.save_netlink.empty() && o.source != tcpstate::Source::netlink) return "--save-netlink needs the netlink source";
  return "";
}

// --state, -l, -4/-6, --sport, --dport, --src, --dst into the filter. Returns the usage message, or "".
std::string take_filter(const Flags& f, tcpkit::SocketFilter& filter) {
  if (auto m = tcpkit::cli::choose_family(f.v4, f.v6, filter.family); !m.empty()) return m;
  std::vector<std::string> state_items, srcs, dsts;
  for (auto m : {split_list("--state", f.states, state_items), split_list("--src", f.srcs, srcs),
                 split_list("--dst", f.dsts, dsts), take_ports("--sport", f.sports, filter.local_ports),
                 take_ports("--dport", f.dports, filter.remote_ports)})
    if (!m.empty()) return m;
  // Both say "only": their union would be neither's answer.
  if (f.listening && !state_items.empty())
    return "-l and --state exclude each other: name every state in --state (e.g. --state listening,established)";
  if (!state_items.empty() || f.listening) {
    tcpkit::StateSet set;
    for (const auto& s : state_items) {
      auto parsed = tcpkit::parse_state_or_group(s);
      if (!parsed) return "unknown state or group '" + s + "' (e.g. established, time-wait, syn-recv, connected)";
      set.add(*parsed);
    }
    if (f.listening) set.add(tcpkit::TcpState::listen);
    filter.states = set;
  }
  for (const auto& c : srcs) {
    auto r = tcpkit::Cidr::parse(c);
    if (!r) return "--src: " + r.error().message;
    filter.local_nets.push_back(*r);
  }
  for (const auto& c : dsts) {
    auto r = tcpkit::Cidr::parse(c);
    if (!r) return "--dst: " + r.error().message;
    filter.remote_nets.push_back(*r);
  }
  return "";
}

// follow's own numbers (-c, --duration) and what it does not combine with. Returns the usage
// message, or "".
std::string take_follow(const CLI::App& app, const Flags& f, tcpstate::Options& o) {
  if (o.source != tcpstate::Source::netlink || given(app, "--source"))
    return "follow reads the kernel's changes live: it does not combine with --source or --from*";
  if (o.processes || o.tcp_info || !o.save_netlink.empty()) return "follow does not combine with -p, -i or --save-netlink";
  if (o.by || o.check || given(app, "--watch") || given(app, "--top") || given(app, "--flood-threshold") ||
      given(app, "--syn-recv-by"))
    return "follow does not combine with --by, --top, --check, --max, --watch, --flood-threshold or --syn-recv-by";
  if (o.output == tcpstate::Output::csv) return "follow writes text, --json (JSON Lines) or, with --summary, --prometheus; not --csv";
  if (o.output == tcpstate::Output::prometheus && !o.summary) return "--prometheus goes with follow --summary (counters per edge)";
  o.follow_life = f.life;
  if (given(app, "--interval")) {
    if (!o.summary) return "--interval with follow goes with --summary (the counts every TIME)";
    auto d = tcpkit::cli::parse_duration(f.interval);
    if (!d) return "--interval: " + d.error().message;
    if (*d < std::chrono::milliseconds(100)) return "--interval: at least 100ms";
    if (d->count() > 86'400'000'000LL) return "--interval: at most a day";
    o.follow_interval = *d;
  }
  if (given(app, "--diagram")) {
    if (f.diagram.empty()) return "--diagram: a file name is needed";
    o.diagram = f.diagram;
  }
  if (f.listening) return "follow shows changes: -l (listening sockets) does not apply";
  if (given(app, "--count")) {
    auto n = tcpkit::cli::parse_count(f.count, 1'000'000'000);
    if (!n) return "--count: " + n.error().message;
    o.follow_count = *n;
  }
  if (given(app, "--duration")) {
    auto d = tcpkit::cli::parse_duration(f.duration);
    if (!d) return "--duration: " + d.error().message;
    if (d->count() <= 0) return "--duration: must be more than 0";
    o.follow_duration = *d;
  }
  return "";
}

// The views' numbers and how they combine: --by, --top, --max/--check, --watch/--count and
// syn-flood's --interval and --flood-threshold. Returns the usage message, or "".
std::string take_views(const CLI::App& app, const Flags& f, tcpstate::Options& o) {
  if (!f.by.empty()) o.by = tcpkit::parse_group_by(f.by);
  if (given(app, "--top")) {
    auto n = tcpkit::cli::parse_count(f.top, 1'000'000);
    if (!n) return "--top: " + n.error().message;
    o.top = static_cast<size_t>(*n);
  }
  std::vector<std::string> maxes;
  if (auto m = split_list("--max", f.maxes, maxes); !m.empty()) return m;
  for (const auto& m : maxes) {
    auto t = tcpkit::parse_threshold(m);
    if (!t) return t.error().message;
    o.thresholds.push_back(*t);
  }
  if (!o.thresholds.empty()) o.check = true;  // a threshold is only useful checked
  if (o.check && o.thresholds.empty() && o.report != tcpstate::Report::syn_flood)
    return "--check needs at least one --max STATE=N (or the syn-flood report)";
  if (o.report == tcpstate::Report::follow) return take_follow(app, f, o);
  if (given(app, "--duration")) return "--duration goes with follow";
  if (given(app, "--life") || given(app, "--diagram")) return "--life and --diagram go with follow";
  if (given(app, "--watch")) {
    auto d = tcpkit::cli::parse_duration(f.watch);
    if (!d) return "--watch: " + d.error().message;
    if (*d < kMinWatchInterval) return "--watch: the interval must be at least 0.1 s";
    o.watch_seconds = static_cast<double>(d->count()) / 1e6;
    if (o.source != tcpstate::Source::netlink && o.source != tcpstate::Source::proc)
      return "--watch needs a live source: saved text does not change";
    if (o.check || o.output == tcpstate::Output::prometheus || o.report != tcpstate::Report::list || o.by)
      return "--watch shows per-state counts: it does not combine with reports, --by, --check or --prometheus";
  }
  if (given(app, "--count")) {
    if (!given(app, "--watch")) return "--count goes with --watch or follow";
    auto n = tcpkit::cli::parse_count(f.count, 1'000'000'000);
    if (!n) return "--count: " + n.error().message;
    o.watch_count = *n;
  }
  if (given(app, "--interval")) {
    auto d = tcpkit::cli::parse_duration(f.interval);
    if (!d) return "--interval: " + d.error().message;
    if (d->count() > 3'600'000'000LL) return "--interval: at most an hour";
    o.interval = *d;
  }
  if (given(app, "--flood-threshold")) {
    auto n = tcpkit::cli::parse_count(f.flood, 1'000'000'000);
    if (!n) return "--flood-threshold: " + n.error().message;
    o.flood_threshold = static_cast<uint64_t>(*n);
  }
  if (o.report != tcpstate::Report::list && (o.summary || o.by))
    return "--summary and --by are views of their own: they do not combine with the " + f.report + " report";
  if (given(app, "--syn-recv-by"))
    o.syn_recv_by = f.syn_recv_by == "queues" ? tcpstate::SynRecvBy::queues
                    : f.syn_recv_by == "walk" ? tcpstate::SynRecvBy::walk
                                              : tcpstate::SynRecvBy::automatic;
  if (o.report != tcpstate::Report::syn_flood &&
      (given(app, "--interval") || given(app, "--flood-threshold") || given(app, "--syn-recv-by")))
    return "--interval, --flood-threshold and --syn-recv-by go with the syn-flood report";
  if (o.syn_recv_by == tcpstate::SynRecvBy::queues && o.source != tcpstate::Source::netlink)
    return "--syn-recv-by queues reads the kernel's listeners: it does not go with --proc or saved text";
  return "";
}

// Opens like tcpprobe's parse_and_run (same shape, each tool's own help text and width).
int parse_and_run(int argc, char** argv) {
  tcpstate::Options o;
  Flags f;
  CLI::App app{"tcpstate - TCP connection states, and direct answers: TIME_WAIT per peer, SYN flood signs,\n"
               "CLOSE_WAIT leaks. From the kernel (netlink sock_diag, default), /proc/net/tcp, or saved ss/netstat text.\n"
               "Exit status: 0 success or check passed, 1 check failed, 2 usage or bad input,\n"
               "3 missing privilege (--netns; follow and --syn-recv-by queues: CAP_BPF and CAP_PERFMON),\n"
               "4 system failure (follow: no BTF or BPF).",
               kTool};
  app.get_formatter()->column_width(kFlagColumn);
  add_flags(app, o, f);
  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;

  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  if (f.json + f.csv + f.prom > 1) return usage("--json, --csv and --prometheus exclude each other");
  o.output = f.json  ? tcpstate::Output::json
             : f.csv ? tcpstate::Output::csv
             : f.prom ? tcpstate::Output::prometheus
                      : tcpstate::Output::table;
  if (given(app, "--explain")) {
    o.explain = tcpkit::parse_tcp_state(f.explain);
    if (!o.explain) return usage("--explain: unknown TCP state '" + f.explain + "' (e.g. TIME_WAIT, time-wait, ESTAB, SYN-RECV)");
    return tcpstate::run(o);
  }
  if (auto m = take_source(app, f, o); !m.empty()) return usage(m);
  o.report = f.report == "time-wait"    ? tcpstate::Report::time_wait
             : f.report == "syn-flood"  ? tcpstate::Report::syn_flood
             : f.report == "close-wait" ? tcpstate::Report::close_wait
             : f.report == "follow"     ? tcpstate::Report::follow
                                        : tcpstate::Report::list;
  if (auto m = take_filter(f, o.filter); !m.empty()) return usage(m);
  if (auto m = take_views(app, f, o); !m.empty()) return usage(m);
  return tcpstate::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
