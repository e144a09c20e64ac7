// tcpstray: how does a peer's TCP stack answer stray FIN, RST, ACK, SYN, NULL and Xmas
// segments? Runs a catalogue of cases and judges each answer against RFC 9293 / 5961 / 1337.
#include <CLI/CLI.hpp>

#include <algorithm>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/wire/endpoint.hpp"
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

int parse_and_run(int argc, char** argv) {
  tcpstray::Options o;
  CLI::App app{"tcpstray - send stray FIN/RST/ACK/SYN/NULL/Xmas segments to a closed port, a listening port, a\n"
               "live connection and the peer's TIME_WAIT, and judge the answers against RFC 9293, 5961 and 1337.\n"
               "Exit status: 0 every case run was conformant, 1 a deviation (or an inconclusive case), 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  app.get_formatter()->column_width(34);
  std::vector<std::string> case_names, group_names;
  std::string target, closed_port, timeout, request;
  bool list = false, v4 = false, v6 = false, json = false, csv = false;
  app.add_option("target", target, "host:port or [v6addr]:port of a listening TCP port")->type_name("TARGET");
  app.add_flag("--list", list, "print the catalogue of cases and exit");
  // One value per flag (repeat it, or give a comma list): a greedy list would swallow TARGET.
  app.add_option("--case", case_names, "run only these cases (see --list); repeat or comma-separate")
      ->type_name("NAME[,NAME...]")->allow_extra_args(false)->expected(1)->delimiter(',')->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--group", group_names, "run only these groups: closed, listen, live, time-wait; repeat or comma-separate")
      ->type_name("GROUP[,GROUP...]")->allow_extra_args(false)->expected(1)->delimiter(',')->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--closed-port", closed_port, "a port nothing listens on, for the closed group (default 1)")->type_name("PORT");
  app.add_option("-W,--timeout", timeout, "how long to wait for each answer (default 1s)")->type_name("TIME");
  app.add_option("--request", request, "bytes to send (\\r\\n escapes) so the server closes first, for the time-wait group")
      ->type_name("TEXT");
  app.add_option("-I,--interface", o.interface, "send and capture through this interface")->type_name("IFACE");
  app.add_flag("-4", v4, "IPv4 only");
  app.add_flag("-6", v6, "IPv6 only");
  app.add_flag("--json", json, "JSON Lines: one object per case, then a summary object");
  app.add_flag("--csv", csv, "CSV with a header row");
  app.add_flag("-v,--verbose", o.verbose, "show every segment of each case, both ways");
  app.set_version_flag("--version", "tcpstray 0.1.0");

  if (auto code = tcpkit::cli::parse_command_line(app, kTool, argc, argv)) return *code;
  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  if (auto m = tcpkit::cli::choose_family(v4, v6, o.family); !m.empty()) return usage(m);
  if (auto m = tcpkit::cli::choose_format(json, csv, o.format); !m.empty()) return usage(m);
  if (list) {
    if (!target.empty()) return usage("--list takes no TARGET");
    if (!case_names.empty() || !group_names.empty()) return usage("--list shows the whole catalogue: no --case or --group");
    return tcpstray::list_catalogue(o.format);
  }

  std::vector<tcpkit::StrayGroup> groups;
  for (const auto& g : group_names) {
    auto group = tcpkit::parse_stray_group(g);
    if (!group) return usage("unknown group '" + g + "': use closed, listen, live or time-wait");
    groups.push_back(*group);
  }
  std::vector<tcpkit::StrayCase> named;
  for (const auto& n : case_names) {
    auto c = tcpkit::find_stray_case(n);
    if (!c) return usage("unknown case '" + n + "' (tcpstray --list shows the catalogue)");
    named.push_back(*c);
  }
  // The union of what --case and --group name; everything when neither is given.
  for (const auto& info : tcpkit::stray_catalogue()) {
    const bool by_name = std::find(named.begin(), named.end(), info.id) != named.end();
    const bool by_group = std::find(groups.begin(), groups.end(), info.group) != groups.end();
    if ((named.empty() && groups.empty()) || by_name || by_group) o.cases.push_back(info.id);
  }
  // Given, even as an empty string: "-W ''" is bad input, not "the default".
  if (app.count("--closed-port")) {
    auto p = tcpkit::parse_port(closed_port);
    if (!p) return usage("--closed-port: " + p.error().message);
    o.closed_port = *p;
  }
  if (app.count("--timeout")) {
    auto d = tcpkit::cli::parse_duration(timeout);
    if (!d) return usage("--timeout: " + d.error().message);
    if (d->count() <= 0) return usage("--timeout '" + timeout + "': must be greater than zero");
    o.timeout = *d;
  }
  if (auto e = decode_escapes(request, o.request); !e.empty()) return usage(e);
  if (target.empty()) return usage("a TARGET (host:port) is required (see --help)");
  auto spec = tcpkit::parse_target(target);
  if (!spec) return usage(spec.error().message);
  if (!spec->port) return usage("TARGET '" + target + "' names no port: give host:port of a listening port");
  if (!spec->zone.empty()) return usage("tcpstray does not test link-local targets ('%" + spec->zone + "'): use a global or ULA address");
  o.target = std::move(*spec);
  return tcpstray::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
