// `tcpstate syn-flood`: SYN_RECV per listener, how many sources and how spread out, how full
// each queue is, the SYN cookie settings, counter deltas over --interval, and a verdict.
#include <poll.h>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "tcpkit/sockets/listen_queues.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

// Sleeps for the interval unless Ctrl-C comes first.
void wait_interval(std::chrono::microseconds interval) {
  pollfd p{cli::interrupt_fd(), POLLIN, 0};
  poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(interval).count()));
}

std::string opt_text(const std::optional<long>& v) { return v ? std::to_string(*v) : "?"; }

// What the report is made of, gathered once and then formatted.
struct SynFloodReport {
  std::string source;
  bool live = false;
  TcpSysctls sys;
  std::map<std::string, uint64_t> deltas;  // the judged TcpExt counters over the interval
  double interval_s = 0;
  SynFloodSummary sum;
  SynFloodJudgement judgement;
  std::vector<ListenerLoad> busy;  // listeners with SYN_RECV or a waiting accept queue, at most --top
  bool walked = true;  // SYN_RECV sockets read by walking every socket (see count_plan)
  std::string why;     // why walked is what it is
};

// Hosts with fewer sockets than this walk them faster than the BPF program loads (~15 ms:
// libbpf reads the kernel's BTF); the walk costs about 0.3 us a socket here (bench/README.md).
constexpr uint64_t kQueuesFromSockets = 50'000;

// Whether the SYN_RECV sockets must be walked. The kernel lists them only by walking the whole
// established hash of the host (ss: once per family), which is the cost of this view on a
// busy host; but each listener keeps their count, which a BPF iterator reads without the walk
// (sockets/listen_queues.hpp). When no listener has any, a LISTEN-only dump (no walk) gives the
// rest of the report. When some have, the walk gives the sockets themselves, whose sources the
// report needs. Returns an error only for --syn-recv-by queues when the queues cannot be read.
Result<void> count_plan(const Options& o, SynFloodReport& v) {
  if (o.source != Source::netlink) return {};
  if (o.syn_recv_by == SynRecvBy::walk) {
    v.why = "--syn-recv-by walk";
    return {};
  }
  if (o.syn_recv_by == SynRecvBy::automatic) {
    const auto stat = read_sockstat_tcp();
    const uint64_t sockets = stat ? stat->allocated + stat->time_wait : 0;
    if (!stat || sockets < kQueuesFromSockets) {
      v.why = stat ? cli::count_text(sockets, "socket") + " on the host: the walk is quicker than loading the BPF program"
                   : "the host's socket count is unknown (" + stat.error().message + ")";
      return {};
    }
  }
  auto queues = read_listen_queues();
  if (!queues) {
    if (o.syn_recv_by != SynRecvBy::queues) {
      v.why = queues.error().message;
      return {};
    }
    return tl::unexpected(cli::with_bpf_hint(queues.error(), "tcpstate"));
  }
  uint64_t requests = 0;
  for (const auto& q : *queues) requests += q.request_sockets;
  v.walked = requests != 0;
  v.why = v.walked ? "the listeners hold " + cli::count_text(requests, "request socket") + ": the walk finds their sources"
                   : "no listener holds a request socket";
  return {};
}

// The counters' growth over --interval (live sources only; empty when not measured).
Result<std::map<std::string, uint64_t>> measure_deltas(const Options& o) {
  if (!live_source(o) || o.interval.count() <= 0) return std::map<std::string, uint64_t>{};
  auto before = read_tcp_counters();
  if (!before) return tl::unexpected(before.error());
  wait_interval(o.interval);
  auto after = read_tcp_counters();
  if (!after) return tl::unexpected(after.error());
  return syn_flood_counter_deltas(*before, *after);
}

std::string table_text(const SynFloodReport& v) {
  const SynFloodSummary& sum = v.sum;
  std::string verdict(verdict_name(v.judgement.verdict));
  for (auto& c : verdict) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out = "Verdict: " + verdict + "\n";
  for (const auto& r : v.judgement.reasons) out += "  - " + r + "\n";
  out += "\nSYN_RECV: " + std::to_string(sum.syn_recv) + " from " + cli::count_text(sum.sources, "source") + " in " +
         cli::count_text(sum.prefixes, "network") + " (/24, /64)";
  if (sum.named_sources) out += " (" + std::to_string(sum.named_sources) + " from host names, in no network)";
  if (sum.top_source_count) out += "; busiest source " + sum.top_source + " (" + std::to_string(sum.top_source_count) + ")";
  out += "\n";
  if (sum.unmatched) out += "  " + std::to_string(sum.unmatched) + " without a listener in the table\n";
  out += "\n";
  if (v.busy.empty()) {
    out += "No listener has SYN_RECV sockets or a waiting accept queue.\n";
  } else {
    TextTable t({"LISTENER", "SYN_RECV", "BACKLOG", "SYN_FILL", "ACCEPT_Q", "SOURCES", "NETWORKS"});
    for (const auto& l : v.busy)
      t.add_row({named_endpoint_text(l.address, l.port, l.host, l.interface), std::to_string(l.syn_recv),
                 l.backlog ? std::to_string(l.backlog) : "?", syn_queue_fill_text(l), std::to_string(l.accept_queue),
                 std::to_string(l.sources), std::to_string(l.prefixes)});
    out += t.render();
  }
  if (v.live) {
    out += "\nSettings: tcp_syncookies " + opt_text(v.sys.syncookies) + ", tcp_max_syn_backlog " +
           opt_text(v.sys.max_syn_backlog) + ", somaxconn " + opt_text(v.sys.somaxconn) + ", tcp_synack_retries " +
           opt_text(v.sys.synack_retries) + "\n";
    if (!v.deltas.empty()) {
      out += "Counters over " + format_fixed(v.interval_s, 1) + " s:";
      for (const auto& [k, n] : v.deltas) out += " " + std::string(counter_short_name(k)) + " +" + std::to_string(n);
      out += "\n";
    }
  }
  return out;
}

// A listener as a JSON line (csv: false) or a CSV row, where a host name stands for the address.
Record listener_record(const ListenerLoad& l, bool csv) {
  Record r;
  if (csv) {
    r["local_address"] = host_text(l.address, l.host);
  } else {
    r["type"] = "listener";
    // A host name stands where the address would be, as in the list view's records.
    if (l.host.empty()) r["local_address"] = l.address.to_string();
    else r["local_host"] = l.host;
  }
  r["local_port"] = l.port;
  if (!csv && !l.interface.empty()) r["interface"] = l.interface;
  if (!csv && l.sockets > 1) r["sockets"] = l.sockets;  // SO_REUSEPORT listeners taken as one
  r["syn_recv"] = l.syn_recv;
  if (l.backlog) r["backlog"] = l.backlog;
  r["accept_queue"] = l.accept_queue;
  r["sources"] = l.sources;
  r["networks"] = l.prefixes;
  return r;
}

void add_prometheus(const SynFloodReport& v, PrometheusText& prom) {
  prom.describe("tcpstate_syn_recv_sockets", "SYN_RECV sockets in all.");
  prom.sample("tcpstate_syn_recv_sockets", {}, static_cast<double>(v.sum.syn_recv));
  prom.describe("tcpstate_syn_recv_sources", "Distinct source addresses of SYN_RECV sockets.");
  prom.sample("tcpstate_syn_recv_sources", {}, static_cast<double>(v.sum.sources));
  prom.describe("tcpstate_listener_syn_recv_sockets", "SYN_RECV sockets per listener.");
  prom.describe("tcpstate_listener_accept_queue", "Connections waiting for accept() per listener.");
  for (const auto& l : v.busy) {
    const PrometheusText::Labels lab = {{"listener", named_endpoint_text(l.address, l.port, l.host, l.interface)}};
    prom.sample("tcpstate_listener_syn_recv_sockets", lab, static_cast<double>(l.syn_recv));
    prom.sample("tcpstate_listener_accept_queue", lab, static_cast<double>(l.accept_queue));
  }
  prom.describe("tcpstate_syn_flood_verdict", "1 for the current verdict (quiet, elevated, flood).");
  for (auto verdict : {SynFloodVerdict::quiet, SynFloodVerdict::elevated, SynFloodVerdict::flood})
    prom.sample("tcpstate_syn_flood_verdict", {{"verdict", std::string(verdict_name(verdict))}},
                verdict == v.judgement.verdict ? 1 : 0);
}

Record summary_record(const SynFloodReport& v) {
  Record summary;
  summary["view"] = "syn-flood";
  summary["source"] = v.source;
  summary["verdict"] = verdict_name(v.judgement.verdict);
  summary["reasons"] = v.judgement.reasons;
  summary["syn_recv"] = v.sum.syn_recv;
  summary["sources"] = v.sum.sources;
  summary["networks"] = v.sum.prefixes;
  if (v.sum.named_sources) summary["named_sources"] = v.sum.named_sources;
  if (v.live) summary["syn_recv_counted_by"] = v.walked ? "socket_walk" : "listener_queues";
  if (!v.why.empty()) summary["syn_recv_counted_why"] = v.why;
  if (!v.deltas.empty()) {
    Record d;
    for (const auto& [k, n] : v.deltas) d[std::string(counter_short_name(k))] = n;
    summary["interval_s"] = v.interval_s;
    summary["counter_deltas"] = d;
  }
  if (v.live) {
    Record s;
    if (v.sys.syncookies) s["tcp_syncookies"] = *v.sys.syncookies;
    if (v.sys.max_syn_backlog) s["tcp_max_syn_backlog"] = *v.sys.max_syn_backlog;
    if (v.sys.somaxconn) s["somaxconn"] = *v.sys.somaxconn;
    if (v.sys.synack_retries) s["tcp_synack_retries"] = *v.sys.synack_retries;  // as the text shows it
    summary["settings"] = s;
  }
  return summary;
}

}  // namespace

int run_syn_flood(const Options& o) {
  SynFloodReport v;
  auto deltas = measure_deltas(o);
  if (!deltas) return fail_with(deltas.error());
  v.deltas = std::move(*deltas);
  v.interval_s = static_cast<double>(o.interval.count()) / 1e6;
  v.sys = read_tcp_sysctls();
  SynFloodAnalysis analysis;
  StateCounts counts;
  if (auto plan = count_plan(o, v); !plan) return fail_with(plan.error());
  StateSet states = threshold_states(o);
  states.add(TcpState::listen);
  if (v.walked) states.add(TcpState::syn_recv);
  // The listeners are judged whatever a filter on the connections says: --dst, --dport or
  // --state syn-recv left every LISTEN row out, so a flood filling one listener's queue was
  // QUIET ("without a listener in the table") and --check passed. Their local side still
  // selects them (SocketFilter::chooses_listener: -4/-6, --sport, and --src but for a wildcard).
  Options wide = o;
  wide.filter = o.filter.listener_candidates();
  auto info = collect_sockets(wide, states, false, [&](SocketRecord& s) {
    const bool chosen = o.filter.matches(s);
    if (chosen) counts.add(s);
    if (chosen || (s.state == TcpState::listen && o.filter.chooses_listener(s))) analysis.add(s);
    return true;
  });
  if (!info) return fail_with(info.error());
  v.source = info->name;
  v.live = info->live;
  v.sum = analysis.finish();
  v.judgement = judge_syn_flood(v.sum, v.deltas, v.live ? v.sys : TcpSysctls{}, o.flood_threshold, o.interval);
  for (const auto& l : v.sum.listeners)
    if ((l.syn_recv || l.accept_queue) && v.busy.size() < o.top) v.busy.push_back(l);

  PrometheusText prom;
  switch (o.output) {
    case Output::table: write_stdout(table_text(v)); break;
    case Output::json:
      for (const auto& l : v.busy) write_json(listener_record(l, false));
      break;
    case Output::csv: {
      CsvWriter w(stdout, {"local_address", "local_port", "syn_recv", "backlog", "accept_queue", "sources", "networks"});
      w.write_header();  // an empty view still has its columns (found: no output at all)
      for (const auto& l : v.busy) w.write(listener_record(l, true));
      break;
    }
    case Output::prometheus: add_prometheus(v, prom); break;
  }
  const std::string failure = v.judgement.verdict == SynFloodVerdict::flood ? "syn-flood verdict is flood" : "";
  return finish_view(o, *info, counts, summary_record(v), &prom, failure);
}

}  // namespace tcpstate
