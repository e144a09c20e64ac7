// `tcpstate time-wait`: who the TIME_WAIT sockets point to, how close each destination is to
// running out of ephemeral ports, how long they have left, and the settings that matter.
#include <algorithm>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

constexpr long kMaxPort = 65535;
// TimeWaitAnalysis's histogram buckets, the last open-ended.
constexpr int kBucketSeconds = int(TimeWaitAnalysis::kBucketMs / 1000);
// The table's histogram: labels padded to this width, bars at most this long plus one.
constexpr size_t kBucketLabelWidth = 8;
constexpr uint64_t kLongestBar = 40;

std::string bucket_label(int i) {
  if (i == TimeWaitAnalysis::kBuckets - 1) return ">=60s";
  return std::to_string(i * kBucketSeconds) + "-" + std::to_string(i * kBucketSeconds + kBucketSeconds) + "s";
}

std::string opt_text(const std::optional<long>& v) { return v ? std::to_string(*v) : "?"; }

std::string tw_reuse_meaning(const std::optional<long>& v) {
  if (!v) return "";
  if (*v == 0) return "new outgoing connections never reuse TIME_WAIT ports";
  if (*v == 1) return "outgoing connections may reuse TIME_WAIT ports (timestamps protect them)";
  return "reuse of TIME_WAIT ports for loopback connections only";
}

// Why TIME_WAIT counts can fall short of the closes made: with 0, an RST from the peer (its
// answer to an ACK it no longer has a socket for, say) ends the TIME_WAIT at once.
std::string rfc1337_meaning(const std::optional<long>& v) {
  if (!v) return "";
  if (*v == 0) return "an RST from the peer ends a TIME_WAIT early: RFC 1337's hazard";
  return "RSTs leave TIME_WAIT alone: RFC 1337's fix";
}

// The client-side groups' service ports: what the second, narrowed dump is about.
std::vector<uint16_t> client_service_ports(const TimeWaitAnalysis& tw) {
  std::vector<uint16_t> ports;
  for (const auto& g : tw.top(tw.groups()))
    if (g.role == ConnectionRole::client && std::find(ports.begin(), ports.end(), g.service_port) == ports.end())
      ports.push_back(g.service_port);
  return ports;
}

// What the report is made of, gathered once and then formatted.
struct TimeWaitReport {
  TcpSysctls sys;
  long low = 0, high = 0;  // the ephemeral range the ports in use are judged against
  long range = 0;
  std::string source;
  bool live = false;
  std::vector<TimeWaitGroup> top;
  std::optional<uint64_t> overflow;  // TcpExt.TCPTimeWaitOverflow (live sources)

  double used_pct(const TimeWaitGroup& d) const {
    return range > 0 ? 100.0 * static_cast<double>(d.ports_in_use) / static_cast<double>(range) : 0.0;
  }
};

// Reads the sockets into tw: TIME_WAIT and LISTEN (which ends are services) first; the ports in
// use towards client-side destinations come from the other connected states, and only from
// ephemeral local ports (a second, kernel-narrowed dump where the source allows it).
Result<SourceInfo> collect_time_wait(const Options& o, TimeWaitAnalysis& tw, StateCounts& counts, long low, long high) {
  StateSet first = threshold_states(o);
  first.add(TcpState::time_wait);
  first.add(TcpState::listen);
  const bool two_dumps = o.source == Source::netlink && o.save_netlink.empty();
  StateSet rest;
  for (TcpState s : kAllTcpStates)
    if (s != TcpState::listen && s != TcpState::close && !first.contains(s)) rest.add(s);
  if (!two_dumps) first.add(rest);
  auto info = collect_sockets(o, first, false, [&](SocketRecord& s) {
    counts.add(s);
    tw.add(s);
    return true;
  });
  if (!info) return info;
  tw.finish();
  if (!two_dumps || cli::interrupted()) return info;
  KernelNarrowing narrow;
  narrow.local_ports = {static_cast<uint16_t>(std::clamp(low, 0L, kMaxPort)), static_cast<uint16_t>(std::clamp(high, 0L, kMaxPort))};
  narrow.remote_ports = client_service_ports(tw);
  if (narrow.remote_ports.empty()) return info;
  auto more = collect_sockets(o, rest, false, [&](SocketRecord& s) {
    tw.add(s);
    return true;
  }, narrow);
  if (!more) return more;
  tw.finish();
  return info;
}

// One record per group: a server's row names its service port, a client's the remote one.
Record group_record(const TimeWaitReport& v, const TimeWaitGroup& d, bool csv) {
  const bool server = d.role == ConnectionRole::server;
  Record r;
  if (!csv) r["type"] = "time_wait_group";
  r["role"] = role_name(d.role);
  // A host name stands where the address would be, as in the list view's records.
  if (d.local_host.empty()) r["local_address"] = d.local.to_string();
  else r[csv ? "local_address" : "local_host"] = d.local_host;
  if (server) r["local_port"] = d.service_port;
  if (d.remote_host.empty()) r["remote_address"] = d.remote.to_string();
  else r[csv ? "remote_address" : "remote_host"] = d.remote_host;
  if (!server) r["remote_port"] = d.service_port;
  r["time_wait"] = d.time_wait;
  if (!server) {
    r["ports_in_use"] = d.ports_in_use;
    r["ephemeral_ports"] = v.range;
    r["ephemeral_used_pct"] = v.used_pct(d);
  }
  return r;
}

std::string groups_table(const TimeWaitReport& v, const TimeWaitAnalysis& tw) {
  if (v.top.empty()) return "";
  TextTable t({"ROLE", "LOCAL", "REMOTE", "TIME_WAIT", "PORTS_IN_USE", "EPHEMERAL_USED"});
  bool client_rows = false, server_rows = false;
  for (const auto& d : v.top) {
    if (d.role == ConnectionRole::server) {
      server_rows = true;
      t.add_row({"server", named_endpoint_text(d.local, d.service_port, d.local_host), host_text(d.remote, d.remote_host),
                 std::to_string(d.time_wait), "-", "-"});
    } else {
      client_rows = true;
      t.add_row({"client", host_text(d.local, d.local_host), named_endpoint_text(d.remote, d.service_port, d.remote_host),
                 std::to_string(d.time_wait), std::to_string(d.ports_in_use) + "/" + std::to_string(v.range),
                 format_fixed(v.used_pct(d), 1) + "%"});
    }
  }
  std::string out = t.render();
  if (tw.groups() > v.top.size())
    out += "(top " + std::to_string(v.top.size()) + " of " + cli::count_text(tw.groups(), "group") + ")\n";
  if (server_rows)
    out += prose("server: this host's service port closed first; one row per client address (the client's ports are its own).", 2);
  if (client_rows)
    out += prose("client: this host closed first; one row per remote service, with the local ephemeral ports in use towards it.", 2);
  return out + "\n";
}

// A bar per bucket of time left, scaled to the fullest.
std::string time_left_text(const TimeWaitAnalysis& tw) {
  std::string out = "Time left:\n";
  uint64_t biggest = 1;
  for (auto n : tw.histogram()) biggest = std::max(biggest, n);
  for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i) {
    const uint64_t n = tw.histogram()[static_cast<size_t>(i)];
    std::string label = bucket_label(i);
    label.resize(kBucketLabelWidth, ' ');
    out += "  " + label + " " + std::to_string(n);
    if (n) out += " " + std::string(1 + static_cast<size_t>(kLongestBar * n / biggest), '#');
    out += "\n";
  }
  if (tw.without_timer()) out += "  (no timer in the source for " + std::to_string(tw.without_timer()) + ")\n";
  return out;
}

std::string settings_text(const TimeWaitReport& v) {
  const TcpSysctls& sys = v.sys;
  std::string out = "\nSettings (" + std::string(v.live ? "this namespace" : "this machine, not the one the text came from") + "):\n";
  // Each setting on a line of its own; its meaning, where the line is too long, folds under it.
  constexpr size_t kFoldIndent = 4;
  std::string range = "  net.ipv4.ip_local_port_range  " + opt_text(sys.port_range_low) + " " + opt_text(sys.port_range_high) +
                      "  (" + std::to_string(v.range) + " ports per local address and destination";
  if (!v.live) range += "; services: the text's LISTEN lines, then ports outside this range";
  out += prose(range + ")", kFoldIndent);
  out += prose("  net.ipv4.tcp_tw_reuse         " + opt_text(sys.tw_reuse) + "  (" + tw_reuse_meaning(sys.tw_reuse) + ")",
               kFoldIndent);
  out += prose("  net.ipv4.tcp_max_tw_buckets   " + opt_text(sys.max_tw_buckets) + "  (beyond it, closing sockets skip TIME_WAIT)",
               kFoldIndent);
  out += prose("  net.ipv4.tcp_fin_timeout      " + opt_text(sys.fin_timeout) +
                   "  (governs orphaned FIN_WAIT_2, not TIME_WAIT, which is fixed at 60 s)",
               kFoldIndent);
  out += prose("  net.ipv4.tcp_rfc1337          " + opt_text(sys.rfc1337) + "  (" + rfc1337_meaning(sys.rfc1337) + ")",
               kFoldIndent);
  if (v.overflow)
    out += prose("  TcpExt.TCPTimeWaitOverflow    " + std::to_string(*v.overflow) +
                     "  (TIME_WAIT sockets not made in this network namespace's life, since boot for the host's: "
                     "the bucket limit was hit)",
                 kFoldIndent);
  return out;
}

std::string table_text(const TimeWaitReport& v, const TimeWaitAnalysis& tw) {
  std::string out = prose("TIME_WAIT: " + cli::count_text(tw.total(), "socket") + " in " + cli::count_text(tw.groups(), "group") +
                              " (source: " + v.source + "): " + std::to_string(tw.total(ConnectionRole::server)) +
                              " as a server, " + std::to_string(tw.total(ConnectionRole::client)) + " as a client",
                          2);
  if (v.live && v.sys.max_tw_buckets && *v.sys.max_tw_buckets > 0)
    out += "  " + format_fixed(100.0 * static_cast<double>(tw.total()) / static_cast<double>(*v.sys.max_tw_buckets), 1) +
           "% of tcp_max_tw_buckets (" + std::to_string(*v.sys.max_tw_buckets) + ")\n";
  out += "\n";
  return out + groups_table(v, tw) + time_left_text(tw) + settings_text(v);
}

void write_json_rows(const TimeWaitReport& v, const TimeWaitAnalysis& tw) {
  for (const auto& d : v.top) write_json(group_record(v, d, false));
  for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i) {
    Record r;
    r["type"] = "time_wait_remaining";
    r["from_s"] = i * kBucketSeconds;
    if (i < TimeWaitAnalysis::kBuckets - 1) r["to_s"] = i * kBucketSeconds + kBucketSeconds;
    r["count"] = tw.histogram()[static_cast<size_t>(i)];
    write_json(r);
  }
  // Saved text without timers (ss without -o, netstat): their time left is unknown, not 0 in
  // every bucket (a row of its own, so the buckets' rows keep their fields).
  if (tw.without_timer()) {
    Record unknown;
    unknown["type"] = "time_wait_remaining_unknown";
    unknown["count"] = tw.without_timer();
    write_json(unknown);
  }
}

// Labels never hold an ephemeral port: a server's row is keyed by its service port and the
// client's address, a client's by the remote service.
void add_prometheus(const TimeWaitReport& v, const TimeWaitAnalysis& tw, PrometheusText& prom) {
  prom.describe("tcpstate_time_wait_sockets", "TIME_WAIT sockets.");
  prom.sample("tcpstate_time_wait_sockets", {}, static_cast<double>(tw.total()));
  prom.describe("tcpstate_time_wait_role_sockets", "TIME_WAIT sockets where this host is the server or the client.");
  for (auto r : {ConnectionRole::server, ConnectionRole::client})
    prom.sample("tcpstate_time_wait_role_sockets", {{"role", std::string(role_name(r))}}, static_cast<double>(tw.total(r)));
  prom.describe("tcpstate_time_wait_group_sockets", "TIME_WAIT sockets of the top groups (per service port and peer).");
  prom.describe("tcpstate_time_wait_group_ports_used_ratio",
                "Client groups: share of the ephemeral range in use towards the remote service.");
  for (const auto& d : v.top) {
    const PrometheusText::Labels l = {{"role", std::string(role_name(d.role))}, {"local", host_text(d.local, d.local_host)},
                                      {"remote", host_text(d.remote, d.remote_host)}, {"service_port", std::to_string(d.service_port)}};
    prom.sample("tcpstate_time_wait_group_sockets", l, static_cast<double>(d.time_wait));
    if (d.role == ConnectionRole::client) prom.sample("tcpstate_time_wait_group_ports_used_ratio", l, v.used_pct(d) / 100.0);
  }
  prom.describe("tcpstate_time_wait_remaining_sockets",
                "TIME_WAIT sockets by seconds left (bucket=\"unknown\": the source had no timer).");
  for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i)
    prom.sample("tcpstate_time_wait_remaining_sockets", {{"bucket", bucket_label(i)}},
                static_cast<double>(tw.histogram()[static_cast<size_t>(i)]));
  prom.sample("tcpstate_time_wait_remaining_sockets", {{"bucket", "unknown"}}, static_cast<double>(tw.without_timer()));
  if (v.overflow) {
    prom.describe("tcpstate_time_wait_overflow_total", "TcpExt.TCPTimeWaitOverflow.", "counter");
    prom.sample("tcpstate_time_wait_overflow_total", {}, static_cast<double>(*v.overflow));
  }
}

Record summary_record(const TimeWaitReport& v, const TimeWaitAnalysis& tw) {
  Record summary;
  summary["view"] = "time-wait";
  summary["source"] = v.source;
  summary["time_wait"] = tw.total();
  summary["groups"] = tw.groups();
  summary["as_server"] = tw.total(ConnectionRole::server);
  summary["as_client"] = tw.total(ConnectionRole::client);
  summary["time_left_unknown"] = tw.without_timer();
  summary["ephemeral_ports"] = v.range;
  summary["ephemeral_low"] = v.low;
  summary["ephemeral_high"] = v.high;
  if (v.live) {
    Record settings;
    if (v.sys.tw_reuse) settings["tcp_tw_reuse"] = *v.sys.tw_reuse;
    if (v.sys.max_tw_buckets) settings["tcp_max_tw_buckets"] = *v.sys.max_tw_buckets;
    if (v.sys.fin_timeout) settings["tcp_fin_timeout"] = *v.sys.fin_timeout;
    if (v.sys.rfc1337) settings["tcp_rfc1337"] = *v.sys.rfc1337;
    if (v.overflow) settings["TCPTimeWaitOverflow"] = *v.overflow;
    summary["settings"] = settings;
  }
  return summary;
}

}  // namespace

int run_time_wait(const Options& o) {
  TimeWaitReport v;
  v.sys = read_tcp_sysctls();  // the inspected namespace's (run() entered it)
  // Saved text comes from another machine: its port range is not ours; ours, or Linux's default.
  v.low = v.sys.port_low();
  v.high = v.sys.port_high();
  v.range = v.high - v.low + 1;
  TimeWaitAnalysis tw(v.low, v.high);
  tw.set_listener_list(listener_list(o.filter, live_source(o)));
  StateCounts counts;
  auto info = collect_time_wait(o, tw, counts, v.low, v.high);
  if (!info) return fail_with(info.error());
  v.source = info->name;
  v.live = info->live;
  if (v.live)
    if (auto c = read_tcp_counters()) {
      if (auto it = c->find("TcpExt.TCPTimeWaitOverflow"); it != c->end()) v.overflow = it->second;
    }
  v.top = tw.top(o.top);

  PrometheusText prom;
  switch (o.output) {
    case Output::table: write_stdout(table_text(v, tw)); break;
    case Output::json: write_json_rows(v, tw); break;
    case Output::csv: {
      CsvWriter w(stdout, {"role", "local_address", "local_port", "remote_address", "remote_port", "time_wait", "ports_in_use",
                           "ephemeral_ports", "ephemeral_used_pct"});
      w.write_header();  // an empty view still has its columns (found: no output at all)
      for (const auto& d : v.top) w.write(group_record(v, d, true));
      break;
    }
    case Output::prometheus: add_prometheus(v, tw, prom); break;
  }
  return finish_view(o, *info, counts, summary_record(v, tw), &prom);
}

}  // namespace tcpstate
