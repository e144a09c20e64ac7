// tcpscan: half-open (SYN) scanner of many hosts x ports; stateless, rate-limited, exact.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/cli_common.hpp"
#include "common/validators.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpscan/options.hpp"
#include "tcpscan/target_zone.hpp"

namespace {

constexpr const char* kTool = "tcpscan";
// Bounds of the flags (tcpscan(1)): past them a value is a typo, not a plan.
constexpr double kMaxRate = 10'000'000;  // probes per second, beyond any NIC's SYN rate
constexpr uint64_t kMaxRetries = 20;
// The ACK check asks every host with a silent port x every such port: 1,024 keeps it at most
// about a million ACKs however the silent ports spread.
constexpr uint64_t kMaxAckCheck = 1024;
constexpr auto kMaxWait = std::chrono::minutes(10);
// --min-rate's default: after drops a scan may slow down to a sixteenth (two slow-downs of 4x).
constexpr double kMinRateShare = 16;

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

// The flags' text as given; parsed into Options once CLI11 is done.
struct FlagText {
  std::string ports, flags = "syn", rate, min_rate, retries, max_retries, wait, seed, shard, sport, source, send_threads;
  std::string ack_check_max;
  std::vector<std::string> excludes;
  bool v4 = false, v6 = false, json = false, csv = false, grepable = false, xml = false;
  bool send_eth = false, send_ip = false, no_ack_check = false;
};

// nmap spells some flags "-iL", "-Pn", "-oX"; CLI11 short names are one letter, so rename them.
// args points into renamed. The command line as given goes to the XML's args.
struct RenamedArgs {
  std::vector<std::string> renamed;
  std::vector<char*> args;
};
void rename_nmap_flags(int argc, char** argv, RenamedArgs& out, std::string& command_line) {
  out.renamed.reserve(size_t(argc));
  out.args.reserve(size_t(argc));
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    out.renamed.push_back(a == "-iL" ? "--input-list" : a == "-Pn" ? "--assume-up" : a == "-oX" ? "--output-xml" : a);
    command_line += (i ? " " : "") + a;
  }
  for (auto& a : out.renamed) out.args.push_back(a.data());
}

void add_target_flags(CLI::App& app, tcpscan::Options& o, FlagText& t) {
  app.add_option("targets", o.targets, "host name, address (fe80::1%eth0: link-local, with its interface), CIDR block (10.0.0.0/24) or range (10.0.0.1-50)")
      ->type_name("TARGET...");
  app.add_option("-p,--ports", t.ports,
                 "ports: 22,80,8000-8100, ssh; -p- for all 1-65535 (default: the " +
                     std::to_string(tcpkit::default_scan_ports().size()) + " ports listed in tcpscan(1))")
      ->type_name("PORTS");
  app.add_option("--input-list", o.target_files, "-iL FILE: read targets from FILE ('-' for standard input)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_option("--exclude", t.excludes, "leave out these targets (comma-separated, same syntax; a zone names the scan's interface)")
      ->type_name("TARGETS")
      ->allow_extra_args(false);
  app.add_option("--exclude-file", o.exclude_files, "leave out the targets listed in FILE")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_flag("-4", t.v4, "IPv4 only");
  app.add_flag("-6", t.v6, "IPv6 only");
  app.add_flag("--allow-broadcast", o.allow_broadcast, "also scan broadcast, multicast and network addresses");
}

void add_probe_flags(CLI::App& app, tcpscan::Options& o, FlagText& t) {
  app.add_option("--flags", t.flags, "probe flags: syn (default), ack, fin, null, xmas, or a set such as fin,psh")
      ->type_name("FLAGS");
  app.add_option("--rate,--max-rate", t.rate,
                 "probes per second (default 10000), a ceiling over any 100 ms: at most PPS/10 + 2 "
                 "probes in any 100 ms")
      ->type_name("PPS");
  app.add_option("--min-rate", t.min_rate,
                 "when a round shows dropped probes (answers only on retry, or collapsing), later "
                 "rounds run 4 times slower, but not below PPS (default: --rate/16; --min-rate "
                 "equal to --rate keeps the rate)")
      ->type_name("PPS");
  app.add_option("--max-retries", t.max_retries,
                 "at most N retry rounds (0-20, default 10): one always goes to the unanswered "
                 "probes, more only while answers keep coming or a miss is still likely")
      ->type_name("N");
  app.add_option("--retries", t.retries,
                 "exactly N retry rounds while probes are unanswered (0-20), instead of --max-retries")
      ->type_name("N");
  app.add_option("--wait", t.wait,
                 "wait exactly TIME for replies after the last round, at most TIME between rounds "
                 "(default: from the round trips measured per network, 1s before any answer)")
      ->type_name("TIME");
  app.add_option("--seed", t.seed, "seed of the random order (default: random; printed in the summary)")->type_name("N");
  app.add_option("--shard", t.shard, "scan only shard I of N (needs --seed, the same on every machine)")->type_name("I/N");
  app.add_option("-g,--source-port", t.sport,
                 "one source port for all rounds (default: 61000-64999 from the seed, +1 per retry "
                 "round; Linux answers a retry on the same port at most every 500 ms)")
      ->type_name("PORT");
  app.add_option("-S,--source", t.source, "source address (default: from the routing table)")->type_name("ADDR");
  app.add_option("-I,--interface", o.interface, "send and receive through this interface")->type_name("IFACE")->check(tcpkit::cli::kNonEmpty);
  app.add_flag("--send-eth", t.send_eth,
               "send Ethernet frames through a packet socket, or fail (default: frames when the targets "
               "share one Ethernet next hop, else IP packets)");
  app.add_flag("--send-ip", t.send_ip, "send IP packets through a raw socket (IPPROTO_RAW), routed by the kernel");
  app.add_flag("--qdisc-bypass", o.qdisc_bypass,
               "frames skip the interface's queueing discipline (PACKET_QDISC_BYPASS): faster, but "
               "tcpdump on this host no longer sees the probes");
  app.add_option("--send-threads", t.send_threads,
                 "threads that send each round together, each a share of the probes and of the rate "
                 "(1-16; default: 2 from --rate 100000 on a machine of 2 or more CPUs, else 1)")
      ->type_name("N");
  app.add_flag("--no-ack-check", t.no_ack_check,
               "send no ACK to the ports whose SYNs drew nothing (by default they get one each, two if the "
               "first draws nothing: an RST back tells a listener with a full accept queue, or a rule for SYNs "
               "alone, from a firewall)");
  app.add_option("--ack-check-max", t.ack_check_max,
                 "the ACK check asks at most N silent ports: all, or those of the hosts that answered "
                 "something, or a random N of those, and then one port of each of at most N hosts that "
                 "answered nothing (default 64; 0 as --no-ack-check)")
      ->type_name("N");
}

void add_report_flags(CLI::App& app, tcpscan::Options& o, FlagText& t) {
  app.add_flag("--assume-up,--no-host-discovery", o.assume_up,
               "-Pn: treat every host as up: a host that never answers shows its ports filtered instead of "
               "being reported down or unreachable");
  app.add_flag("--open", o.open_only, "show only open ports (and only hosts with one)");
  app.add_flag("--all", o.all, "list every port: collapse no state into a \"Not shown\" line");
  app.add_flag("--stream", o.stream, "text: one line per port as soon as it is known, instead of a report per host");
  app.add_flag("--reason", o.reason,
               "--stream: say why each port has its state (syn-ack, reset, icmp-unreach, no-response); "
               "the report per host, JSON and CSV always say it");
  app.add_flag("--json", t.json, "JSON Lines, streamed: one object per port, one per host, then a summary");
  app.add_flag("--csv", t.csv, "CSV with a header row, streamed");
  app.add_flag("--grepable", t.grepable, "one line per host: Host: ADDR<TAB>Open: 22,80<TAB>Closed: ...");
  app.add_flag("--xml", t.xml, "nmap's XML on standard output (as -oX -)");
  app.add_option("--output-xml", o.xml_file, "-oX FILE: also write nmap's XML to FILE ('-': standard output)")
      ->type_name("FILE");
  app.add_flag("--dry-run", o.dry_run, "print the probes in order instead of sending them (no privilege needed)");
}

// Each check below returns the usage message for bad input, or "" to go on. A flag counts as
// given even as an empty string: "--rate ''" is bad input, not "the default rate".
bool given(const CLI::App& app, const char* flag) { return app.count(flag) > 0; }

// The output form: one of --json, --csv, --grepable, --xml (-oX -), else text.
std::string choose_output(const CLI::App& app, FlagText& t, tcpscan::Options& o) {
  if (given(app, "--output-xml") && o.xml_file.empty()) return "-oX needs a file name ('-' for standard output)";
  if (o.xml_file == "-") t.xml = true;
  if (t.xml) o.xml_file = "-";
  if (int(t.json) + int(t.csv) + int(t.grepable) + int(t.xml) > 1)
    return "--json, --csv, --grepable and --xml (-oX -) exclude each other";
  if (o.dry_run && !o.xml_file.empty()) return "--dry-run sends nothing: there is no XML to write";
  o.form = t.json       ? tcpscan::OutputForm::json
           : t.csv      ? tcpscan::OutputForm::csv
           : t.grepable ? tcpscan::OutputForm::grepable
           : t.xml      ? tcpscan::OutputForm::xml
                        : tcpscan::OutputForm::text;
  return "";
}

// A rate flag's value, 1 to kMaxRate probes per second.
std::optional<double> parse_rate(const std::string& text) {
  char* end = nullptr;
  const double r = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(r >= 1) || r > kMaxRate) return std::nullopt;
  return r;
}

std::string parse_rates(const CLI::App& app, const FlagText& t, tcpscan::Options& o) {
  if (given(app, "--rate")) {
    const auto r = parse_rate(t.rate);
    if (!r) return "invalid --rate '" + t.rate + "': expected 1 to 10000000 probes per second";
    o.rate = *r;
  }
  o.min_rate = std::max(1.0, o.rate / kMinRateShare);
  if (given(app, "--min-rate")) {
    const auto r = parse_rate(t.min_rate);
    if (!r) return "invalid --min-rate '" + t.min_rate + "': expected 1 to 10000000 probes per second";
    if (*r > o.rate) return "--min-rate " + t.min_rate + " is above --rate: the rate only goes down";
    o.min_rate = *r;
  }
  return "";
}

std::string parse_rounds(const CLI::App& app, const FlagText& t, tcpscan::Options& o) {
  if (given(app, "--retries") && given(app, "--max-retries"))
    return "--retries fixes the rounds, --max-retries caps them: give one of them";
  for (const auto& [flag, text] : {std::pair{"--retries", &t.retries}, std::pair{"--max-retries", &t.max_retries}}) {
    if (!given(app, flag)) continue;
    const auto r = parse_u64(*text);
    if (!r || *r > kMaxRetries) return std::string("invalid ") + flag + " '" + *text + "': expected 0 to 20";
    o.retries = int(*r);
    o.fixed_rounds = std::string_view(flag) == "--retries";
  }
  if (given(app, "--wait")) {
    auto d = tcpkit::cli::parse_duration(t.wait);
    if (!d) return "--wait: " + d.error().message;
    if (*d > kMaxWait) return "wait '" + t.wait + "' is too long: at most 10 minutes";
    o.wait = *d;
    o.wait_forced = true;
  }
  return "";
}

// The order of the probes and the ports they come from.
std::string parse_order(const CLI::App& app, const FlagText& t, tcpscan::Options& o) {
  if (given(app, "--seed")) {
    const auto s = parse_u64(t.seed);
    if (!s) return "invalid --seed '" + t.seed + "': expected a whole number from 0 to 2^64-1";
    o.seed = *s;
  }
  if (given(app, "--shard")) {
    auto s = tcpkit::parse_shard(t.shard);
    if (!s) return "--shard: " + s.error().message;
    if (!o.seed) return "--shard needs --seed: every shard must walk the same order";
    o.shard = *s;
  }
  if (given(app, "--source-port")) {
    const auto p = parse_u64(t.sport);
    if (!p || *p < 1 || *p > 65535) return "-g: invalid source port '" + t.sport + "': expected 1 to 65535";
    o.source_port = uint16_t(*p);
  }
  return "";
}

// Zones on the command line; those in -iL files are taken as the files are read (scan_run.cpp).
std::string take_zones(tcpscan::Options& o) {
  for (auto& text : o.targets)
    if (auto m = tcpscan::take_zone(text, o); !m.empty()) return m;
  return "";
}

std::string parse_source(const CLI::App& app, const FlagText& t, tcpscan::Options& o) {
  if (auto m = take_zones(o); !m.empty()) return m;
  if (given(app, "--source")) {
    o.source = tcpkit::IpAddress::parse(t.source);
    if (!o.source) return "invalid --source address '" + t.source + "'";
  }
  if (!o.interface.empty()) {
    auto index = tcpkit::interface_index(o.interface);
    if (!index) return index.error().message;
  }
  if (t.send_eth && t.send_ip) return "--send-eth and --send-ip choose opposite paths: give one of them";
  if (t.send_ip && o.qdisc_bypass) return "--qdisc-bypass is for Ethernet frames: it does not go with --send-ip";
  if (t.send_eth) o.send_mode = tcpkit::SendMode::ethernet;
  if (t.send_ip) o.send_mode = tcpkit::SendMode::ip;
  if (t.no_ack_check && given(app, "--ack-check-max"))
    return "--no-ack-check sends no ACK, --ack-check-max sets how many: give one of them";
  if (t.no_ack_check) o.ack_check_max = 0;
  if (given(app, "--ack-check-max")) {
    const auto n = parse_u64(t.ack_check_max);
    if (!n || *n > kMaxAckCheck)
      return "invalid --ack-check-max '" + t.ack_check_max + "': expected 0 to " + std::to_string(kMaxAckCheck);
    o.ack_check_max = *n;
  }
  if (given(app, "--send-threads")) {
    const auto n = parse_u64(t.send_threads);
    if (!n || *n < 1 || *n > tcpkit::kMaxSendThreads)
      return "invalid --send-threads '" + t.send_threads + "': expected 1 to " + std::to_string(tcpkit::kMaxSendThreads);
    o.send_threads = size_t(*n);
  }
  return "";
}

// Everything after CLI11: the flags' text into parsed values, in the order the errors are told.
std::string parse_values(const CLI::App& app, FlagText& t, tcpscan::Options& o) {
  if (o.targets.empty() && o.target_files.empty()) return "no targets: name some, or give -iL FILE (see --help)";
  if (auto m = tcpkit::cli::choose_family(t.v4, t.v6, o.family); !m.empty()) return m;
  if (auto m = choose_output(app, t, o); !m.empty()) return m;
  o.ports = t.ports;
  if (given(app, "--ports") && t.ports.empty()) return "--ports: empty port list";
  o.excludes = split_commas(t.excludes);
  auto f = tcpkit::parse_flags(t.flags);
  if (!f) return "--flags: " + f.error().message;
  o.flags = *f;
  for (auto parse : {parse_rates, parse_rounds, parse_order, parse_source})
    if (auto m = parse(app, t, o); !m.empty()) return m;
  return "";
}

int parse_and_run(int argc, char** argv) {
  tcpscan::Options o;
  RenamedArgs renamed;
  rename_nmap_flags(argc, argv, renamed, o.command_line);

  CLI::App app{"tcpscan - half-open (SYN) TCP port scanner: many hosts x ports, stateless, rate-limited.\n"
               "Exit status: 0 at least one port open, 1 none open (hosts down have none), 2 usage,\n"
               "3 missing privilege, 4 system failure.",
               kTool};
  app.get_formatter()->column_width(34);
  FlagText text;
  add_target_flags(app, o, text);
  add_probe_flags(app, o, text);
  add_report_flags(app, o, text);
  app.set_version_flag("--version", "tcpscan 0.1.0");

  // A closed stdout (cron's >&-) is fine when the results go to an XML file, and only then.
  const bool nowhere = tcpkit::cli::stdout_was_closed();
  if (auto code = tcpkit::cli::parse_command_line(app, kTool, int(renamed.args.size()), renamed.args.data()))
    return nowhere && *code == 0 ? tcpkit::cli::refuse_closed_stdout(kTool) : *code;
  if (auto m = parse_values(app, text, o); !m.empty()) return tcpkit::cli::usage_error(kTool, m);
  if (nowhere && (o.xml_file.empty() || o.xml_file == "-")) return tcpkit::cli::refuse_closed_stdout(kTool);
  return tcpscan::run(o);
}

}  // namespace

int main(int argc, char** argv) {
  return tcpkit::cli::guarded_main(kTool, [&] { return parse_and_run(argc, argv); }, true);
}
