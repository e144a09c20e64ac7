// tcppath: where on the path a SYN is dropped, delayed or rewritten.
#include <CLI/CLI.hpp>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcppath/options.hpp"

namespace {

constexpr const char* kTool = "tcppath";
constexpr int kMaxHops = 64;
// A Linux router answers a burst of about 6, then about one a second: more probes per hop
// would only measure its rate limit.
constexpr int kMaxQueries = 6;
constexpr unsigned kHelpFlagColumn = 30;
constexpr int kMaxFlows = 16;  // each flow costs every router q more answers of its ICMP budget

struct Flags {
  std::string target, port, wait, source, options;
  bool v4 = false, v6 = false, json = false;
};

int parse_and_run(int argc, char** argv) {
  tcppath::Options o;
  Flags f;
  CLI::App app{"tcppath - trace a TCP SYN hop by hop over one fixed flow, and show where it is dropped,\n"
               "delayed or rewritten (the quoted SYN diffed against the one sent).\n"
               "Exit status: 0 the destination answered, 1 it did not, 2 usage, 3 missing privilege,\n"
               "4 system failure.",
               kTool};
  app.get_formatter()->column_width(kHelpFlagColumn);
  app.add_option("target", f.target, "host:port, host:service, [v6addr]:port, or host with -p")->required()->type_name("TARGET");
  app.add_option("-p,--port", f.port, "port (or service) when the target names none (default 80)")->type_name("PORT");
  app.add_option("-m,--max-hops", o.max_hops, "highest TTL probed (1-64, default 30)")->check(CLI::Range(1, kMaxHops));
  app.add_option("-q,--queries", o.queries, "probes per hop (1-6, default 3)")->check(CLI::Range(1, kMaxQueries));
  app.add_option("--flows", o.flows, "trace over N flows at once (source ports), and show where ECMP paths diverge (1-16)")
      ->check(CLI::Range(1, kMaxFlows))
      ->type_name("N");
  app.add_option("--options", f.options,
                 "the SYN's options: linux (default), none, or a list like mss=1380,nop,ws=8,sack,ts")
      ->type_name("LIST");
  app.add_option("--router-burst", o.router_burst,
                 "answers a router gives at once before its ICMP rate limit; --flows go in waves that fit (default 6)")
      ->check(CLI::Range(1, 1000))
      ->type_name("N");
  app.add_flag("--ecn", o.ecn, "send an ECN-setup SYN (ECE and CWR set): shows where they are cleared");
  app.add_option("-W,--wait", f.wait, "how long to wait for answers after sending (default 2s)")->type_name("TIME");
  app.add_option("-S,--source", f.source, "source address")->type_name("ADDR");
  app.add_option("-I,--interface", o.interface, "send through this interface")->type_name("IFACE")->check(tcpkit::cli::kNonEmpty);
  app.add_flag("-4", f.v4, "IPv4 only");
  app.add_flag("-6", f.v6, "IPv6 only");
  app.add_flag("-n,--numeric", o.numeric, "addresses only: no reverse lookups of the routers' names");
  app.add_flag("--json", f.json, "JSON Lines: one object per hop, then a summary object");
  app.set_version_flag("--version", "tcppath 0.1.0");
  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;

  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  if (auto m = tcpkit::cli::choose_family(f.v4, f.v6, o.family); !m.empty()) return usage(m);
  o.format = f.json ? tcpkit::Format::json : tcpkit::Format::text;
  if (app.count("--wait")) {
    auto d = tcpkit::cli::parse_duration(f.wait);
    if (!d) return usage("--wait: " + d.error().message);
    if (d->count() <= 0) return usage("--wait '" + f.wait + "': must be greater than zero");
    o.wait = *d;
  }
  if (app.count("--options")) {
    auto list = tcpkit::parse_option_list(f.options);
    if (!list) return usage("--options: " + list.error().message);
    o.syn_options = *list;
    o.tsval_given = (',' + f.options).find(",ts=") != std::string::npos;
  }
  if (app.count("--port")) {
    auto p = tcpkit::parse_port(f.port);
    if (!p) return usage("--port: " + p.error().message);
    o.port = *p;
  }
  if (app.count("--source")) {
    auto a = tcpkit::IpAddress::parse(f.source);
    if (!a) return usage("invalid --source address '" + f.source + "'");
    o.source = *a;
  }
  auto spec = tcpkit::parse_target(f.target);
  if (!spec) return usage(spec.error().message);
  tcpkit::cli::warn_port_lookalike(kTool, *spec);
  o.target = *spec;
  return tcppath::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
