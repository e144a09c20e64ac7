// `tcpstate syn-flood`: SYN_RECV per listener, how many sources and how spread out, how full
// each queue is, the SYN cookie settings, counter deltas over --interval, and a verdict.
#include <poll.h>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

// Sleeps for the interval unless Ctrl-C comes first.
void wait_interval(std::chrono::microseconds interval) {
  pollfd p{cli::interrupt_fd(), POLLIN, 0};
  poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(interval.count() / 1000));
}

std::string opt_text(const std::optional<long>& v) { return v ? std::to_string(*v) : "?"; }

std::string fill_text(const ListenerLoad& l) {
  if (!l.backlog) return "?";
  return format_fixed(100.0 * static_cast<double>(l.syn_recv) / l.backlog, 0) + "%";
}

}  // namespace

int run_syn_flood(const Options& o) {
  const bool live = o.source == Source::netlink || o.source == Source::proc;
  std::map<std::string, uint64_t> deltas;
  const double interval_s = static_cast<double>(o.interval.count()) / 1e6;
  if (live && o.interval.count() > 0) {
    auto before = read_tcp_counters();
    if (!before) return fail_with(before.error());
    wait_interval(o.interval);
    auto after = read_tcp_counters();
    if (!after) return fail_with(after.error());
    deltas = syn_flood_counter_deltas(*before, *after);
  }
  const TcpSysctls sys = read_tcp_sysctls();
  SynFloodAnalysis analysis;
  StateCounts counts;
  StateSet states = threshold_states(o);
  states.add(TcpState::listen);
  states.add(TcpState::syn_recv);
  auto info = collect_sockets(o, states, false, [&](SocketRecord& s) {
    counts.add(s);
    analysis.add(s);
    return true;
  });
  if (!info) return fail_with(info.error());
  const SynFloodSummary sum = analysis.finish();
  const SynFloodJudgement j = judge_syn_flood(sum, deltas, info->live ? sys : TcpSysctls{}, o.flood_threshold);
  std::vector<ListenerLoad> busy;
  for (const auto& l : sum.listeners)
    if ((l.syn_recv || l.accept_queue) && busy.size() < o.top) busy.push_back(l);

  PrometheusText prom;
  switch (o.output) {
    case Output::table: {
      std::string verdict(verdict_name(j.verdict));
      for (auto& c : verdict) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string out = "Verdict: " + verdict + "\n";
      for (const auto& r : j.reasons) out += "  - " + r + "\n";
      out += "\nSYN_RECV: " + std::to_string(sum.syn_recv) + " from " + cli::count_text(sum.sources, "source") + " in " +
             cli::count_text(sum.prefixes, "network") + " (/24, /64)";
      if (sum.named_sources) out += " (" + std::to_string(sum.named_sources) + " from host names, in no network)";
      if (sum.top_source_count) out += "; busiest source " + sum.top_source + " (" + std::to_string(sum.top_source_count) + ")";
      out += "\n";
      if (sum.unmatched) out += "  " + std::to_string(sum.unmatched) + " without a listener in the table\n";
      out += "\n";
      if (busy.empty()) {
        out += "No listener has SYN_RECV sockets or a waiting accept queue.\n";
      } else {
        TextTable t({"LISTENER", "SYN_RECV", "BACKLOG", "SYN_FILL", "ACCEPT_Q", "SOURCES", "NETWORKS"});
        for (const auto& l : busy)
          t.add_row({named_endpoint_text(l.address, l.port, l.host, l.interface), std::to_string(l.syn_recv),
                     l.backlog ? std::to_string(l.backlog) : "?", fill_text(l), std::to_string(l.accept_queue),
                     std::to_string(l.sources), std::to_string(l.prefixes)});
        out += t.render();
      }
      if (info->live) {
        out += "\nSettings: tcp_syncookies " + opt_text(sys.syncookies) + ", tcp_max_syn_backlog " +
               opt_text(sys.max_syn_backlog) + ", somaxconn " + opt_text(sys.somaxconn) + ", tcp_synack_retries " +
               opt_text(sys.synack_retries) + "\n";
        if (!deltas.empty()) {
          out += "Counters over " + format_fixed(interval_s, 1) + " s:";
          for (const auto& [k, v] : deltas) out += " " + std::string(counter_short_name(k)) + " +" + std::to_string(v);
          out += "\n";
        }
      }
      write_stdout(out);
      break;
    }
    case Output::json: {
      for (const auto& l : busy) {
        Record r;
        r["type"] = "listener";
        // A host name stands where the address would be, as in the list view's records.
        if (l.host.empty()) r["local_address"] = l.address.to_string();
        else r["local_host"] = l.host;
        r["local_port"] = l.port;
        if (!l.interface.empty()) r["interface"] = l.interface;
        r["syn_recv"] = l.syn_recv;
        if (l.backlog) r["backlog"] = l.backlog;
        r["accept_queue"] = l.accept_queue;
        r["sources"] = l.sources;
        r["networks"] = l.prefixes;
        write_json(r);
      }
      break;
    }
    case Output::csv: {
      CsvWriter w(stdout, {"local_address", "local_port", "syn_recv", "backlog", "accept_queue", "sources", "networks"});
      for (const auto& l : busy) {
        Record r;
        r["local_address"] = host_text(l.address, l.host);
        r["local_port"] = l.port;
        r["syn_recv"] = l.syn_recv;
        if (l.backlog) r["backlog"] = l.backlog;
        r["accept_queue"] = l.accept_queue;
        r["sources"] = l.sources;
        r["networks"] = l.prefixes;
        w.write(r);
      }
      break;
    }
    case Output::prometheus: {
      prom.describe("tcpstate_syn_recv_sockets", "SYN_RECV sockets in all.");
      prom.sample("tcpstate_syn_recv_sockets", {}, static_cast<double>(sum.syn_recv));
      prom.describe("tcpstate_syn_recv_sources", "Distinct source addresses of SYN_RECV sockets.");
      prom.sample("tcpstate_syn_recv_sources", {}, static_cast<double>(sum.sources));
      prom.describe("tcpstate_listener_syn_recv_sockets", "SYN_RECV sockets per listener.");
      prom.describe("tcpstate_listener_accept_queue", "Connections waiting for accept() per listener.");
      for (const auto& l : busy) {
        const PrometheusText::Labels lab = {{"listener", named_endpoint_text(l.address, l.port, l.host, l.interface)}};
        prom.sample("tcpstate_listener_syn_recv_sockets", lab, static_cast<double>(l.syn_recv));
        prom.sample("tcpstate_listener_accept_queue", lab, static_cast<double>(l.accept_queue));
      }
      prom.describe("tcpstate_syn_flood_verdict", "1 for the current verdict (quiet, elevated, flood).");
      for (auto v : {SynFloodVerdict::quiet, SynFloodVerdict::elevated, SynFloodVerdict::flood})
        prom.sample("tcpstate_syn_flood_verdict", {{"verdict", std::string(verdict_name(v))}}, v == j.verdict ? 1 : 0);
      break;
    }
  }
  Record summary;
  summary["view"] = "syn-flood";
  summary["source"] = info->name;
  summary["verdict"] = verdict_name(j.verdict);
  summary["reasons"] = j.reasons;
  summary["syn_recv"] = sum.syn_recv;
  summary["sources"] = sum.sources;
  summary["networks"] = sum.prefixes;
  if (sum.named_sources) summary["named_sources"] = sum.named_sources;
  if (!deltas.empty()) {
    Record d;
    for (const auto& [k, v] : deltas) d[std::string(counter_short_name(k))] = v;
    summary["interval_s"] = interval_s;
    summary["counter_deltas"] = d;
  }
  if (info->live) {
    Record s;
    if (sys.syncookies) s["tcp_syncookies"] = *sys.syncookies;
    if (sys.max_syn_backlog) s["tcp_max_syn_backlog"] = *sys.max_syn_backlog;
    if (sys.somaxconn) s["somaxconn"] = *sys.somaxconn;
    summary["settings"] = s;
  }
  const std::string failure = j.verdict == SynFloodVerdict::flood ? "syn-flood verdict is flood" : "";
  return finish_view(o, counts, summary, &prom, failure);
}

}  // namespace tcpstate
