// `tcpstate close-wait`: CLOSE_WAIT per process and service (a server's local port, a
// client's remote address:port). The kernel never leaves CLOSE_WAIT by itself, so a count that
// grows means an application that never calls close().
#include <algorithm>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "source.hpp"
#include "tcpkit/sockets/socket_owners.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

// Reads the CLOSE_WAIT (and LISTEN: which local ports are services) sockets into analysis; the
// owners are looked up after the dump, for the CLOSE_WAIT sockets only.
Result<SourceInfo> collect_close_wait(const Options& o, CloseWaitAnalysis& analysis, StateCounts& counts) {
  StateSet states = threshold_states(o);
  states.add(TcpState::close_wait);
  states.add(TcpState::listen);
  auto info = collect_sockets(o, states, false, [&](SocketRecord& s) {
    counts.add(s);
    analysis.add(s);
    return true;
  });
  if (!info) return info;
  const auto wanted = analysis.unowned_inodes();
  if (!info->live || wanted.empty()) {
    analysis.finish();
    return info;
  }
  const SocketOwners owners = scan_owners(&wanted);
  size_t unowned = 0;
  analysis.finish([&](uint64_t inode) {
    const auto* found = owners.find(inode);
    unowned += found == nullptr;
    return found;
  });
  say_if_owners_denied(owners, unowned);
  return info;
}

std::string service_text(const CloseWaitRow& r) {
  return r.role == ConnectionRole::server ? ":" + std::to_string(r.service_port)
                                          : named_endpoint_text(r.remote, r.service_port, r.remote_host);
}

// The holders' names and their pids, position for position: "nginx,sh,nginx" and "12,13,14".
std::string holder_names(const CloseWaitRow& r) {
  std::string out = r.process;
  for (const auto& p : r.shared_with) out += "," + p.name;
  return out;
}
// The other holders' pids, "13,14" (also a Prometheus label).
std::string shared_pids(const CloseWaitRow& r) {
  std::string out;
  for (const auto& p : r.shared_with) out += (out.empty() ? "" : ",") + std::to_string(p.pid);
  return out;
}
std::string holder_pids(const CloseWaitRow& r) {
  return (r.pid ? std::to_string(r.pid) : "-") + (r.shared_with.empty() ? "" : "," + shared_pids(r));
}

// A row as a JSON line (csv: false) or a CSV row.
Record row_record(const CloseWaitRow& r, bool csv) {
  const bool server = r.role == ConnectionRole::server;
  Record j;
  if (!csv) j["type"] = "close_wait";
  j["process"] = r.process;
  if (r.pid || csv) j["pid"] = r.pid;
  j["role"] = role_name(r.role);
  if (server) j["local_port"] = r.service_port;
  // A host name stands where the address would be, as in the list view's records.
  if (!server && r.remote_host.empty()) j["remote_address"] = r.remote.to_string();
  if (!server && !r.remote_host.empty()) j[csv ? "remote_address" : "remote_host"] = r.remote_host;
  if (!server) j["remote_port"] = r.service_port;
  j["close_wait"] = r.count;
  j["unread_bytes"] = r.unread_bytes;
  j["eof_read"] = r.eof_read;
  if (csv) {
    j["shared_with"] = r.shared_with.empty() ? "" : owners_text(r.shared_with);  // "sh[13]", as the list's
  } else if (!r.shared_with.empty()) {
    Record others = Record::array();
    for (const auto& p : r.shared_with) {
      Record one;
      one["process"] = p.name;
      one["pid"] = p.pid;
      others.push_back(one);
    }
    j["shared_with"] = others;
  }
  return j;
}

std::string table_text(const CloseWaitAnalysis& analysis, const std::vector<CloseWaitRow>& rows, const SourceInfo& info) {
  std::string out = "CLOSE_WAIT: " + cli::count_text(analysis.total(), "socket") + " (source: " + info.name + ")\n";
  if (!rows.empty()) {
    TextTable t({"PROCESS", "PID", "ROLE", "SERVICE", "CLOSE_WAIT", "UNREAD_BYTES", "EOF_READ"});
    for (const auto& r : rows)
      t.add_row({holder_names(r), holder_pids(r), std::string(role_name(r.role)), service_text(r),
                 std::to_string(r.count), std::to_string(r.unread_bytes), std::to_string(r.eof_read)});
    out += "\n" + t.render();
    out += "\n" +
           prose("The peer closed these connections and the process has not called close(). The kernel keeps them "
                 "until it does: a count that grows between runs is a descriptor leak in that process.") +
           prose("UNREAD_BYTES: data never read (the peer's FIN, which Recv-Q counts as one byte, is left out).", 2) +
           prose("EOF_READ: sockets with nothing left to read, the end of stream counted read, and still not closed "
                 "(a FIN that came with the last data counts read once that data is: the process may not have seen "
                 "the end of stream yet).", 2);
    if (std::any_of(rows.begin(), rows.end(), [](const CloseWaitRow& r) { return !r.shared_with.empty(); }))
      out += prose("Several PIDs: the sockets are shared (inherited across fork), and each of those processes must "
                   "close them before the kernel can.");
  }
  if (analysis.total() && rows.size() && rows.front().process == "-" && !info.live && info.name == "ss")
    out += "(no process names in the text: save it with `ss -tanp`)\n";
  return out;
}

// No ephemeral port in a label: a client's row is keyed by the remote service.
void add_prometheus(const std::vector<CloseWaitRow>& rows, PrometheusText& prom) {
  prom.describe("tcpstate_close_wait_sockets", "CLOSE_WAIT sockets per process and service.");
  prom.describe("tcpstate_close_wait_unread_bytes", "Data bytes left unread in those CLOSE_WAIT sockets.");
  for (const auto& r : rows) {
    PrometheusText::Labels l = {{"process", r.process}, {"pid", std::to_string(r.pid)}, {"role", std::string(role_name(r.role))}};
    if (r.role == ConnectionRole::client) l.push_back({"remote", host_text(r.remote, r.remote_host)});
    l.push_back({"service_port", std::to_string(r.service_port)});
    if (!r.shared_with.empty()) l.push_back({"shared_with", shared_pids(r)});  // their pids
    prom.sample("tcpstate_close_wait_sockets", l, static_cast<double>(r.count));
    prom.sample("tcpstate_close_wait_unread_bytes", l, static_cast<double>(r.unread_bytes));
  }
}

}  // namespace

int run_close_wait(const Options& o) {
  const TcpSysctls sys = read_tcp_sysctls();  // the inspected namespace's; for saved text, this machine's
  CloseWaitAnalysis analysis(sys.port_low(), sys.port_high());
  analysis.set_listener_list(listener_list(o.filter, live_source(o)));
  StateCounts counts;
  auto info = collect_close_wait(o, analysis, counts);
  if (!info) return fail_with(info.error());
  const auto rows = analysis.top(o.top);
  PrometheusText prom;
  switch (o.output) {
    case Output::table: write_stdout(table_text(analysis, rows, *info)); break;
    case Output::json:
      for (const auto& r : rows) write_json(row_record(r, false));
      break;
    case Output::csv: {
      CsvWriter w(stdout, {"process", "pid", "role", "local_port", "remote_address", "remote_port", "close_wait",
                           "unread_bytes", "eof_read", "shared_with"});
      w.write_header();  // an empty view still has its columns (found: no output at all)
      for (const auto& r : rows) w.write(row_record(r, true));
      break;
    }
    case Output::prometheus: add_prometheus(rows, prom); break;
  }
  Record summary;
  summary["view"] = "close-wait";
  summary["source"] = info->name;
  summary["close_wait"] = analysis.total();
  return finish_view(o, *info, counts, summary, &prom);
}

}  // namespace tcpstate
