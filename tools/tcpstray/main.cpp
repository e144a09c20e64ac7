// tcpstray: how does a peer's TCP stack answer stray FIN, RST, ACK, SYN, NULL and Xmas
// segments? Runs a catalogue of cases and judges each answer against RFC 9293 / 5961 / 1337.
#include <CLI/CLI.hpp>

#include <algorithm>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpstray/options.hpp"

namespace {

constexpr const char* kTool = "tcpstray";

// "\r\n" style escapes in --request; returns an error sentence or "".
std::string decode_escapes(const std::string& text, std::string& out) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return "--request '" + text + "' ends with a lone backslash";
    switch (text[i]) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      default: return "--request '" + text + "': unknown escape \\" + text[i] + " (use \\r \\n \\t \\\\)";
    }
  }
  return "";
}

// The flags as typed, before they are checked and turned into Options.
struct Flags {
  std::vector<std::string> case_names, group_names;
  std::string target, closed_port, timeout, request;
  bool list = false, v4 = false, v6 = false, json = false, csv = false;
};

// Help's flag column: wide enough for "--group GROUP[,GROUP...]" beside its text.
constexpr size_t kFlagColumn = 34;

void add_flags(CLI::App& app, Flags& f, tcpstray::Options& o) {
  app.get_formatter()->column_width(kFlagColumn);
  app.add_option("target", f.target, "host:port or [v6addr]:port of a listening TCP port")->type_name("TARGET");
  app.add_flag("--list", f.list, "print the catalogue of cases and exit");
  // One value per flag (repeat it, or give a comma list): a greedy list would swallow TARGET.
  app.add_option("--case", f.case_names, "run only these cases (see --list); repeat or comma-separate")
      ->type_name("NAME[,NAME...]")->allow_extra_args(false)->expected(1)->delimiter(',')->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--group", f.group_names, "run only these groups: closed, listen, live, time-wait; repeat or comma-separate")
      ->type_name("GROUP[,GROUP...]")->allow_extra_args(false)->expected(1)->delimiter(',')->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--closed-port", f.closed_port, "a port nothing listens on, for the closed group (default 1)")->type_name("PORT");
  app.add_option("-W,--timeout", f.timeout, "how long to wait for each answer (default 1s)")->type_name("TIME");
  app.add_option("--request", f.request, "bytes to send (\\r\\n escapes) so the server closes first, for the time-wait group")
      ->type_name("TEXT");
  app.add_option("-I,--interface", o.interface, "send and capture through this interface")->type_name("IFACE")->check(tcpkit::cli::kNonEmpty);
  app.add_flag("-4", f.v4, "IPv4 only");
  app.add_flag("-6", f.v6, "IPv6 only");
  app.add_flag("--json", f.json, "JSON Lines: one object per case, then a summary object");
  app.add_flag("--csv", f.csv, "CSV with a header row");
  app.add_flag("-v,--verbose", o.verbose, "show every segment of each case, both ways");
  app.set_version_flag("--version", "tcpstray 0.1.0");
}

// The union of what --case and --group name; everything when neither is given. Returns an
// error sentence or "".
std::string select_cases(const Flags& f, std::vector<tcpkit::StrayCase>& cases) {
  std::vector<tcpkit::StrayGroup> groups;
  for (const auto& g : f.group_names) {
    auto group = tcpkit::parse_stray_group(g);
    if (!group) return "unknown group '" + g + "': use closed, listen, live or time-wait";
    groups.push_back(*group);
  }
  std::vector<tcpkit::StrayCase> named;
  for (const auto& n : f.case_names) {
    auto c = tcpkit::find_stray_case(n);
    if (!c) return "unknown case '" + n + "' (tcpstray --list shows the catalogue)";
    named.push_back(*c);
  }
  for (const auto& info : tcpkit::stray_catalogue()) {
    const bool by_name = std::find(named.begin(), named.end(), info.id) != named.end();
    const bool by_group = std::find(groups.begin(), groups.end(), info.group) != groups.end();
    if ((named.empty() && groups.empty()) || by_name || by_group) cases.push_back(info.id);
  }
  return "";
}

// --closed-port, --timeout and --request; returns an error sentence or "".
std::string parse_values(const CLI::App& app, const Flags& f, tcpstray::Options& o) {
  // Given, even as an empty string: "-W ''" is bad input, not "the default".
  if (app.count("--closed-port")) {
    auto p = tcpkit::parse_port(f.closed_port);
    if (!p) return "--closed-port: " + p.error().message;
    o.closed_port = *p;
  }
  if (app.count("--timeout")) {
    auto d = tcpkit::cli::parse_duration(f.timeout);
    if (!d) return "--timeout: " + d.error().message;
    if (d->count() <= 0) return "--timeout '" + f.timeout + "': must be greater than zero";
    o.timeout = *d;
  }
  return decode_escapes(f.request, o.request);
}

// The TARGET: required, with a port, and not link-local. Returns an error sentence or "".
std::string parse_target_flag(const std::string& target, tcpstray::Options& o) {
  if (target.empty()) return "a TARGET (host:port) is required (see --help)";
  auto spec = tcpkit::parse_target(target);
  if (!spec) return spec.error().message;
  if (!spec->port) return "TARGET '" + target + "' names no port: give host:port of a listening port";
  if (!spec->zone.empty()) return "tcpstray does not test link-local targets ('%" + spec->zone + "'): use a global or ULA address";
  // Without a zone a link-local address names no host at all (it is the same on every link).
  if (auto literal = tcpkit::IpAddress::parse(spec->host); literal && literal->is_link_local())
    return "tcpstray does not test link-local targets ('" + spec->host + "'): use a global or ULA address";
  o.target = std::move(*spec);
  return "";
}

int parse_and_run(int argc, char** argv) {
  tcpstray::Options o;
  CLI::App app{"tcpstray - send stray FIN/RST/ACK/SYN/NULL/Xmas segments to a closed port, a listening port, a\n"
               "live connection and the peer's TIME_WAIT, and judge the answers against RFC 9293, 5961 and 1337.\n"
               "Exit status: 0 every case run was conformant, 1 a deviation (or an inconclusive case), 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  Flags f;
  add_flags(app, f, o);
  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;
  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  if (auto m = tcpkit::cli::choose_family(f.v4, f.v6, o.family); !m.empty()) return usage(m);
  if (auto m = tcpkit::cli::choose_format(f.json, f.csv, o.format); !m.empty()) return usage(m);
  if (f.list) {
    if (!f.target.empty()) return usage("--list takes no TARGET");
    if (!f.case_names.empty() || !f.group_names.empty()) return usage("--list shows the whole catalogue: no --case or --group");
    return tcpstray::list_catalogue(o.format);
  }
  if (auto m = select_cases(f, o.cases); !m.empty()) return usage(m);
  if (auto m = parse_values(app, f, o); !m.empty()) return usage(m);
  if (auto m = parse_target_flag(f.target, o); !m.empty()) return usage(m);
  return tcpstray::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
