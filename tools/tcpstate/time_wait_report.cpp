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

std::string bucket_label(int i) {
  if (i == TimeWaitAnalysis::kBuckets - 1) return ">=60s";
  return std::to_string(i * 10) + "-" + std::to_string(i * 10 + 10) + "s";
}

std::string opt_text(const std::optional<long>& v) { return v ? std::to_string(*v) : "?"; }

std::string tw_reuse_meaning(const std::optional<long>& v) {
  if (!v) return "";
  if (*v == 0) return "new outgoing connections never reuse TIME_WAIT ports";
  if (*v == 1) return "outgoing connections may reuse TIME_WAIT ports (timestamps protect them)";
  return "reuse of TIME_WAIT ports for loopback connections only";
}

// The client-side groups' service ports: what the second, narrowed dump is about.
std::vector<uint16_t> client_service_ports(const TimeWaitAnalysis& tw) {
  std::vector<uint16_t> ports;
  for (const auto& g : tw.top(tw.groups()))
    if (g.role == ConnectionRole::client && std::find(ports.begin(), ports.end(), g.service_port) == ports.end())
      ports.push_back(g.service_port);
  return ports;
}

}  // namespace

int run_time_wait(const Options& o) {
  const TcpSysctls sys = read_tcp_sysctls();  // the inspected namespace's (run() entered it)
  // Saved text comes from another machine: its port range is not ours; ours, or Linux's default.
  const long low = sys.port_range_low.value_or(32768), high = sys.port_range_high.value_or(60999);
  TimeWaitAnalysis tw(low, high);
  StateCounts counts;
  // TIME_WAIT and LISTEN (which ends are services) first; the ports in use towards client-side
  // destinations come from the other connected states, and only from ephemeral local ports.
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
  if (!info) return fail_with(info.error());
  tw.finish();
  if (two_dumps && !cli::interrupted()) {
    KernelNarrowing narrow;
    narrow.local_ports = {static_cast<uint16_t>(std::clamp(low, 0L, 65535L)), static_cast<uint16_t>(std::clamp(high, 0L, 65535L))};
    narrow.remote_ports = client_service_ports(tw);
    if (!narrow.remote_ports.empty()) {
      auto more = collect_sockets(o, rest, false, [&](SocketRecord& s) {
        tw.add(s);
        return true;
      }, narrow);
      if (!more) return fail_with(more.error());
      tw.finish();
    }
  }
  std::map<std::string, uint64_t> counters;
  if (info->live)
    if (auto c = read_tcp_counters()) counters = *c;
  const auto top = tw.top(o.top);
  const long range = high - low + 1;
  auto used_pct = [&](const TimeWaitGroup& d) { return range > 0 ? 100.0 * static_cast<double>(d.ports_in_use) / static_cast<double>(range) : 0.0; };
  const auto overflow = counters.find("TcpExt.TCPTimeWaitOverflow");
  const bool client_rows = std::any_of(top.begin(), top.end(), [](const TimeWaitGroup& g) { return g.role == ConnectionRole::client; });
  const bool server_rows = std::any_of(top.begin(), top.end(), [](const TimeWaitGroup& g) { return g.role == ConnectionRole::server; });
  // One record per group: a server's row names its service port, a client's the remote one.
  auto group_record = [&](const TimeWaitGroup& d, bool csv) {
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
      r["ephemeral_ports"] = range;
      r["ephemeral_used_pct"] = used_pct(d);
    }
    return r;
  };

  PrometheusText prom;
  switch (o.output) {
    case Output::table: {
      std::string out = "TIME_WAIT: " + cli::count_text(tw.total(), "socket") + " in " + cli::count_text(tw.groups(), "group") +
                        " (source: " + info->name + "): " + std::to_string(tw.total(ConnectionRole::server)) +
                        " as a server, " + std::to_string(tw.total(ConnectionRole::client)) + " as a client\n";
      if (info->live && sys.max_tw_buckets && *sys.max_tw_buckets > 0)
        out += "  " + format_fixed(100.0 * static_cast<double>(tw.total()) / static_cast<double>(*sys.max_tw_buckets), 1) +
               "% of tcp_max_tw_buckets (" + std::to_string(*sys.max_tw_buckets) + ")\n";
      out += "\n";
      if (!top.empty()) {
        TextTable t({"ROLE", "LOCAL", "REMOTE", "TIME_WAIT", "PORTS_IN_USE", "EPHEMERAL_USED"});
        for (const auto& d : top) {
          if (d.role == ConnectionRole::server)
            t.add_row({"server", named_endpoint_text(d.local, d.service_port, d.local_host), host_text(d.remote, d.remote_host),
                       std::to_string(d.time_wait), "-", "-"});
          else
            t.add_row({"client", host_text(d.local, d.local_host), named_endpoint_text(d.remote, d.service_port, d.remote_host),
                       std::to_string(d.time_wait),
                       std::to_string(d.ports_in_use) + "/" + std::to_string(range), format_fixed(used_pct(d), 1) + "%"});
        }
        out += t.render();
        if (tw.groups() > top.size())
          out += "(top " + std::to_string(top.size()) + " of " + cli::count_text(tw.groups(), "group") + ")\n";
        if (server_rows)
          out += "server: this host's service port closed first; one row per client address (the client's ports are its own).\n";
        if (client_rows)
          out += "client: this host closed first; one row per remote service, with the local ephemeral ports in use towards it.\n";
        out += "\n";
      }
      out += "Time left:\n";
      uint64_t biggest = 1;
      for (auto n : tw.histogram()) biggest = std::max(biggest, n);
      for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i) {
        const uint64_t n = tw.histogram()[static_cast<size_t>(i)];
        std::string label = bucket_label(i);
        label.resize(8, ' ');
        out += "  " + label + " " + std::to_string(n);
        if (n) out += " " + std::string(1 + static_cast<size_t>(40 * n / biggest), '#');
        out += "\n";
      }
      if (tw.without_timer()) out += "  (no timer in the source for " + std::to_string(tw.without_timer()) + ")\n";
      out += "\nSettings (" + std::string(info->live ? "this namespace" : "this machine, not the one the text came from") + "):\n";
      out += "  net.ipv4.ip_local_port_range  " + opt_text(sys.port_range_low) + " " + opt_text(sys.port_range_high) + "  (" +
             std::to_string(range) + " ports per local address and destination";
      if (!info->live) out += "; services: the text's LISTEN lines, then ports outside this range";
      out += ")\n";
      out += "  net.ipv4.tcp_tw_reuse         " + opt_text(sys.tw_reuse) + "  (" + tw_reuse_meaning(sys.tw_reuse) + ")\n";
      out += "  net.ipv4.tcp_max_tw_buckets   " + opt_text(sys.max_tw_buckets) + "  (beyond it, closing sockets skip TIME_WAIT)\n";
      out += "  net.ipv4.tcp_fin_timeout      " + opt_text(sys.fin_timeout) +
             "  (governs orphaned FIN_WAIT_2, not TIME_WAIT, which is fixed at 60 s)\n";
      if (overflow != counters.end())
        out += "  TcpExt.TCPTimeWaitOverflow    " + std::to_string(overflow->second) +
               "  (TIME_WAIT sockets not created since boot: the bucket limit was hit)\n";
      write_stdout(out);
      break;
    }
    case Output::json: {
      for (const auto& d : top) write_json(group_record(d, false));
      for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i) {
        Record r;
        r["type"] = "time_wait_remaining";
        r["from_s"] = i * 10;
        if (i < TimeWaitAnalysis::kBuckets - 1) r["to_s"] = i * 10 + 10;
        r["count"] = tw.histogram()[static_cast<size_t>(i)];
        write_json(r);
      }
      break;
    }
    case Output::csv: {
      CsvWriter w(stdout, {"role", "local_address", "local_port", "remote_address", "remote_port", "time_wait", "ports_in_use",
                           "ephemeral_ports", "ephemeral_used_pct"});
      for (const auto& d : top) w.write(group_record(d, true));
      break;
    }
    case Output::prometheus: {
      // Labels never hold an ephemeral port: a server's row is keyed by its service port and
      // the client's address, a client's by the remote service.
      prom.describe("tcpstate_time_wait_sockets", "TIME_WAIT sockets.");
      prom.sample("tcpstate_time_wait_sockets", {}, static_cast<double>(tw.total()));
      prom.describe("tcpstate_time_wait_role_sockets", "TIME_WAIT sockets where this host is the server or the client.");
      for (auto r : {ConnectionRole::server, ConnectionRole::client})
        prom.sample("tcpstate_time_wait_role_sockets", {{"role", std::string(role_name(r))}}, static_cast<double>(tw.total(r)));
      prom.describe("tcpstate_time_wait_group_sockets", "TIME_WAIT sockets of the top groups (per service port and peer).");
      prom.describe("tcpstate_time_wait_group_ports_used_ratio",
                    "Client groups: share of the ephemeral range in use towards the remote service.");
      for (const auto& d : top) {
        const PrometheusText::Labels l = {{"role", std::string(role_name(d.role))}, {"local", host_text(d.local, d.local_host)},
                                          {"remote", host_text(d.remote, d.remote_host)}, {"service_port", std::to_string(d.service_port)}};
        prom.sample("tcpstate_time_wait_group_sockets", l, static_cast<double>(d.time_wait));
        if (d.role == ConnectionRole::client)
          prom.sample("tcpstate_time_wait_group_ports_used_ratio", l, used_pct(d) / 100.0);
      }
      prom.describe("tcpstate_time_wait_remaining_sockets", "TIME_WAIT sockets by seconds left.");
      for (int i = 0; i < TimeWaitAnalysis::kBuckets; ++i)
        prom.sample("tcpstate_time_wait_remaining_sockets", {{"bucket", bucket_label(i)}},
                    static_cast<double>(tw.histogram()[static_cast<size_t>(i)]));
      if (overflow != counters.end()) {
        prom.describe("tcpstate_time_wait_overflow_total", "TcpExt.TCPTimeWaitOverflow.", "counter");
        prom.sample("tcpstate_time_wait_overflow_total", {}, static_cast<double>(overflow->second));
      }
      break;
    }
  }
  Record summary;
  summary["view"] = "time-wait";
  summary["source"] = info->name;
  summary["time_wait"] = tw.total();
  summary["groups"] = tw.groups();
  summary["as_server"] = tw.total(ConnectionRole::server);
  summary["as_client"] = tw.total(ConnectionRole::client);
  summary["ephemeral_ports"] = range;
  summary["ephemeral_low"] = low;
  summary["ephemeral_high"] = high;
  Record settings;
  if (info->live) {
    if (sys.tw_reuse) settings["tcp_tw_reuse"] = *sys.tw_reuse;
    if (sys.max_tw_buckets) settings["tcp_max_tw_buckets"] = *sys.max_tw_buckets;
    if (sys.fin_timeout) settings["tcp_fin_timeout"] = *sys.fin_timeout;
    if (overflow != counters.end()) settings["TCPTimeWaitOverflow"] = overflow->second;
    summary["settings"] = settings;
  }
  return finish_view(o, counts, summary, &prom);
}

}  // namespace tcpstate
