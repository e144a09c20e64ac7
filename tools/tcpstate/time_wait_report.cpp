// `tcpstate time-wait`: who the TIME_WAIT sockets point to, how close each destination is to
// running out of ephemeral ports, how long they have left, and the settings that matter.
#include "common/cli_common.hpp"
#include "tcpkit/tcp_kernel_status.hpp"
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

}  // namespace

int run_time_wait(const Options& o) {
  const TcpSysctls sys = read_tcp_sysctls();
  // Saved text comes from another machine: its port range is not ours; assume Linux's default.
  const long low = sys.port_range_low.value_or(32768), high = sys.port_range_high.value_or(60999);
  TimeWaitAnalysis tw(low, high);
  StateCounts counts;
  StateSet states = *parse_state_or_group("connected");
  auto info = collect_sockets(o, states, false, [&](SocketRecord& s) {
    counts.add(s);
    tw.add(s);
    return true;
  });
  if (!info) return fail_with(info.error());
  std::map<std::string, uint64_t> counters;
  if (info->live)
    if (auto c = read_tcp_counters()) counters = *c;
  const auto top = tw.top(o.top);
  const long range = high - low + 1;
  auto used_pct = [&](const TimeWaitDestination& d) { return range > 0 ? 100.0 * static_cast<double>(d.ports_in_use) / static_cast<double>(range) : 0.0; };
  const auto overflow = counters.find("TcpExt.TCPTimeWaitOverflow");

  PrometheusText prom;
  switch (o.output) {
    case Output::table: {
      std::string out = "TIME_WAIT: " + std::to_string(tw.total()) + " sockets towards " + std::to_string(tw.destinations()) +
                        " destinations (source: " + info->name + ")\n";
      if (info->live && sys.max_tw_buckets && *sys.max_tw_buckets > 0)
        out += "  " + format_fixed(100.0 * static_cast<double>(tw.total()) / static_cast<double>(*sys.max_tw_buckets), 1) +
               "% of tcp_max_tw_buckets (" + std::to_string(*sys.max_tw_buckets) + ")\n";
      out += "\n";
      if (!top.empty()) {
        TextTable t({"LOCAL", "REMOTE", "TIME_WAIT", "PORTS_IN_USE", "EPHEMERAL_USED"});
        for (const auto& d : top)
          t.add_row({d.local.to_string(), endpoint_text(d.remote, d.remote_port), std::to_string(d.time_wait),
                     std::to_string(d.ports_in_use) + "/" + std::to_string(range), format_fixed(used_pct(d), 1) + "%"});
        out += t.render();
        if (tw.destinations() > top.size())
          out += "(top " + std::to_string(top.size()) + " of " + std::to_string(tw.destinations()) + " destinations)\n";
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
             std::to_string(range) + " ports per local address and destination)\n";
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
      for (const auto& d : top) {
        Record r;
        r["type"] = "time_wait_destination";
        r["local_address"] = d.local.to_string();
        r["remote_address"] = d.remote.to_string();
        r["remote_port"] = d.remote_port;
        r["time_wait"] = d.time_wait;
        r["ports_in_use"] = d.ports_in_use;
        r["ephemeral_ports"] = range;
        r["ephemeral_used_pct"] = used_pct(d);
        write_json(r);
      }
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
      CsvWriter w(stdout, {"local_address", "remote_address", "remote_port", "time_wait", "ports_in_use", "ephemeral_ports",
                           "ephemeral_used_pct"});
      for (const auto& d : top) {
        Record r;
        r["local_address"] = d.local.to_string();
        r["remote_address"] = d.remote.to_string();
        r["remote_port"] = d.remote_port;
        r["time_wait"] = d.time_wait;
        r["ports_in_use"] = d.ports_in_use;
        r["ephemeral_ports"] = range;
        r["ephemeral_used_pct"] = used_pct(d);
        w.write(r);
      }
      break;
    }
    case Output::prometheus: {
      prom.describe("tcpstate_time_wait_sockets", "TIME_WAIT sockets.");
      prom.sample("tcpstate_time_wait_sockets", {}, static_cast<double>(tw.total()));
      prom.describe("tcpstate_time_wait_destination_sockets", "TIME_WAIT sockets of the top destinations.");
      prom.describe("tcpstate_time_wait_destination_ports_used_ratio", "Share of the ephemeral range in use towards a destination.");
      for (const auto& d : top) {
        const PrometheusText::Labels l = {{"local", d.local.to_string()}, {"remote", d.remote.to_string()},
                                          {"remote_port", std::to_string(d.remote_port)}};
        prom.sample("tcpstate_time_wait_destination_sockets", l, static_cast<double>(d.time_wait));
        prom.sample("tcpstate_time_wait_destination_ports_used_ratio", l, used_pct(d) / 100.0);
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
  summary["destinations"] = tw.destinations();
  summary["ephemeral_ports"] = range;
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
