// tcpscan: half-open (SYN) scanner of many hosts x ports; stateless, rate-limited, exact.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpscan/options.hpp"

namespace {

constexpr const char* kTool = "tcpscan";

std::optional<uint64_t> parse_u64(const std::string& text) {
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::vector<std::string> split_commas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      if (comma == std::string::npos) comma = item.size();
      out.push_back(item.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

int parse_and_run(int argc, char** argv) {
  // nmap spells some flags "-iL", "-Pn", "-oX"; CLI11 short names are one letter, so rename them.
  std::vector<std::string> renamed;
  std::vector<char*> args;
  renamed.reserve(size_t(argc));
  args.reserve(size_t(argc));
  tcpscan::Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    renamed.push_back(a == "-iL" ? "--input-list" : a == "-Pn" ? "--assume-up" : a == "-oX" ? "--output-xml" : a);
    o.command_line += (i ? " " : "") + a;
  }
  for (auto& a : renamed) args.push_back(a.data());

  CLI::App app{"tcpscan - half-open (SYN) TCP port scanner: many hosts x ports, stateless, rate-limited.\n"
               "Exit status: 0 at least one port open, 1 none open (hosts down have none), 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  app.get_formatter()->column_width(34);
  std::string ports, flags = "syn", rate, min_rate, retries, wait, seed, shard, sport, source;
  std::vector<std::string> excludes;
  bool v4 = false, v6 = false, json = false, csv = false, grepable = false, xml = false;
  app.add_option("targets", o.targets, "host name, address, CIDR block (10.0.0.0/24) or range (10.0.0.1-50)")
      ->type_name("TARGET...");
  app.add_option("-p,--ports", ports,
                 "ports: 22,80,8000-8100, ssh; -p- for all 1-65535 (default: the " +
                     std::to_string(tcpkit::default_scan_ports().size()) + " ports listed in tcpscan(1))")
      ->type_name("PORTS");
  app.add_option("--input-list", o.target_files, "-iL FILE: read targets from FILE ('-' for standard input)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_option("--exclude", excludes, "leave out these targets (comma-separated, same syntax)")
      ->type_name("TARGETS")
      ->allow_extra_args(false);
  app.add_option("--exclude-file", o.exclude_files, "leave out the targets listed in FILE")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_flag("-4", v4, "IPv4 only");
  app.add_flag("-6", v6, "IPv6 only");
  app.add_flag("--allow-broadcast", o.allow_broadcast, "also scan broadcast, multicast and network addresses");
  app.add_option("--flags", flags, "probe flags: syn (default), ack, fin, null, xmas, or a set such as fin,psh")
      ->type_name("FLAGS");
  app.add_option("--rate,--max-rate", rate,
                 "probes per second (default 10000), a ceiling over any 100 ms: at most PPS/10 + 2 "
                 "probes in any 100 ms")
      ->type_name("PPS");
  app.add_option("--min-rate", min_rate,
                 "when a round shows dropped probes (answers only on retry, or collapsing), later "
                 "rounds run 4 times slower, but not below PPS (default: --rate/16; --min-rate "
                 "equal to --rate keeps the rate)")
      ->type_name("PPS");
  app.add_option("--retries", retries, "extra rounds for unanswered probes (0-20, default 2)")->type_name("N");
  app.add_option("--wait", wait, "time to wait for replies after the last probe (default 1s)")->type_name("TIME");
  app.add_option("--seed", seed, "seed of the random order (default: random; printed in the summary)")->type_name("N");
  app.add_option("--shard", shard, "scan only shard I of N (needs --seed, the same on every machine)")->type_name("I/N");
  app.add_option("-g,--source-port", sport,
                 "one source port for all rounds (default: 61000-64999 from the seed, +1 per retry "
                 "round; Linux answers a retry on the same port at most every 500 ms)")
      ->type_name("PORT");
  app.add_option("-S,--source", source, "source address (default: from the routing table)")->type_name("ADDR");
  app.add_option("-I,--interface", o.interface, "send and receive through this interface")->type_name("IFACE");
  app.add_flag("--assume-up,--no-host-discovery", o.assume_up,
               "-Pn: treat every host as up: a host that never answers shows its ports filtered instead of "
               "being reported down or unreachable");
  app.add_flag("--open", o.open_only, "show only open ports (and only hosts with one)");
  app.add_flag("--all", o.all, "list every port: collapse no state into a \"Not shown\" line");
  app.add_flag("--stream", o.stream, "text: one line per port as soon as it is known, instead of a report per host");
  app.add_flag("--reason", o.reason,
               "--stream: say why each port has its state (syn-ack, reset, icmp-unreach, no-response)");
  app.add_flag("--json", json, "JSON Lines, streamed: one object per port, one per host, then a summary");
  app.add_flag("--csv", csv, "CSV with a header row, streamed");
  app.add_flag("--grepable", grepable, "one line per host: Host: ADDR<TAB>Open: 22,80<TAB>Closed: ...");
  app.add_flag("--xml", xml, "nmap's XML on standard output (as -oX -)");
  app.add_option("--output-xml", o.xml_file, "-oX FILE: also write nmap's XML to FILE ('-': standard output)")
      ->type_name("FILE");
  app.add_flag("--dry-run", o.dry_run, "print the probes in order instead of sending them (no privilege needed)");
  app.set_version_flag("--version", "tcpscan 0.1.0");

  if (auto code = tcpkit::cli::parse_command_line(app, kTool, int(args.size()), args.data())) return *code;

  auto usage = [](const std::string& message) { return tcpkit::cli::usage_error(kTool, message); };
  // Given, even as an empty string: "--rate ''" is bad input, not "the default rate".
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (o.targets.empty() && o.target_files.empty()) return usage("no targets: name some, or give -iL FILE (see --help)");
  if (auto m = tcpkit::cli::choose_family(v4, v6, o.family); !m.empty()) return usage(m);
  if (app.count("--output-xml") && o.xml_file.empty()) return usage("-oX needs a file name ('-' for standard output)");
  if (o.xml_file == "-") xml = true;
  if (xml) o.xml_file = "-";
  if (int(json) + int(csv) + int(grepable) + int(xml) > 1)
    return usage("--json, --csv, --grepable and --xml (-oX -) exclude each other");
  if (o.dry_run && !o.xml_file.empty()) return usage("--dry-run sends nothing: there is no XML to write");
  o.form = json ? tcpscan::OutputForm::json
           : csv ? tcpscan::OutputForm::csv
           : grepable ? tcpscan::OutputForm::grepable
           : xml ? tcpscan::OutputForm::xml
                 : tcpscan::OutputForm::text;
  o.ports = ports;
  if (app.count("--ports") && ports.empty()) return usage("--ports: empty port list");
  o.excludes = split_commas(excludes);

  auto f = tcpkit::parse_flags(flags);
  if (!f) return usage("--flags: " + f.error().message);
  o.flags = *f;
  if (given("--rate")) {
    char* end = nullptr;
    const double r = std::strtod(rate.c_str(), &end);
    if (end != rate.c_str() + rate.size() || !(r >= 1) || r > 10'000'000)
      return usage("invalid --rate '" + rate + "': expected 1 to 10000000 probes per second");
    o.rate = r;
  }
  o.min_rate = std::max(1.0, o.rate / 16);
  if (given("--min-rate")) {
    char* end = nullptr;
    const double r = std::strtod(min_rate.c_str(), &end);
    if (end != min_rate.c_str() + min_rate.size() || !(r >= 1) || r > 10'000'000)
      return usage("invalid --min-rate '" + min_rate + "': expected 1 to 10000000 probes per second");
    if (r > o.rate) return usage("--min-rate " + min_rate + " is above --rate: the rate only goes down");
    o.min_rate = r;
  }
  if (given("--retries")) {
    const auto r = parse_u64(retries);
    if (!r || *r > 20) return usage("invalid --retries '" + retries + "': expected 0 to 20");
    o.retries = int(*r);
  }
  if (given("--wait")) {
    auto d = tcpkit::cli::parse_duration(wait);
    if (!d) return usage("--wait: " + d.error().message);
    if (*d > std::chrono::minutes(10)) return usage("wait '" + wait + "' is too long: at most 10 minutes");
    o.wait = *d;
  }
  if (given("--seed")) {
    const auto s = parse_u64(seed);
    if (!s) return usage("invalid --seed '" + seed + "': expected a whole number from 0 to 2^64-1");
    o.seed = *s;
  }
  if (given("--shard")) {
    auto s = tcpkit::parse_shard(shard);
    if (!s) return usage("--shard: " + s.error().message);
    if (!o.seed) return usage("--shard needs --seed: every shard must walk the same order");
    o.shard = *s;
  }
  if (given("--source-port")) {
    const auto p = parse_u64(sport);
    if (!p || *p < 1 || *p > 65535) return usage("-g: invalid source port '" + sport + "': expected 1 to 65535");
    o.source_port = uint16_t(*p);
  }
  if (given("--source")) {
    o.source = tcpkit::IpAddress::parse(source);
    if (!o.source) return usage("invalid --source address '" + source + "'");
  }
  if (!o.interface.empty()) {
    auto index = tcpkit::interface_index(o.interface);
    if (!index) return usage(index.error().message);
  }
  return tcpscan::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); });
}
