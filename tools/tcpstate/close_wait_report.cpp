// `tcpstate close-wait`: CLOSE_WAIT per process and local port. The kernel never leaves
// CLOSE_WAIT by itself, so a count that grows means an application that never calls close().
#include "common/cli_common.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

int run_close_wait(const Options& o) {
  CloseWaitAnalysis analysis;
  StateCounts counts;
  auto info = collect_sockets(o, StateSet::of(TcpState::close_wait), true, [&](SocketRecord& s) {
    counts.add(s);
    analysis.add(s);
    return true;
  });
  if (!info) return fail_with(info.error());
  const auto rows = analysis.top(o.top);
  PrometheusText prom;
  auto row_record = [](const CloseWaitRow& r) {
    Record j;
    j["type"] = "close_wait";
    j["process"] = r.process;
    if (r.pid) j["pid"] = r.pid;
    j["local_port"] = r.local_port;
    j["close_wait"] = r.count;
    j["unread_bytes"] = r.recv_q;
    return j;
  };
  switch (o.output) {
    case Output::table: {
      std::string out = "CLOSE_WAIT: " + std::to_string(analysis.total()) + " sockets (source: " + info->name + ")\n";
      if (!rows.empty()) {
        TextTable t({"PROCESS", "PID", "LOCAL_PORT", "CLOSE_WAIT", "UNREAD_BYTES"});
        for (const auto& r : rows)
          t.add_row({r.process, r.pid ? std::to_string(r.pid) : "-", std::to_string(r.local_port), std::to_string(r.count),
                     std::to_string(r.recv_q)});
        out += "\n" + t.render();
        out += "\nThe peer closed these connections and the process has not called close(). The kernel keeps them\n"
               "until it does: a count that grows between runs is a descriptor leak in that process.\n";
      }
      if (analysis.total() && rows.size() && rows.front().process == "-" && !info->live && info->name == "ss")
        out += "(no process names in the text: save it with `ss -tanp`)\n";
      write_stdout(out);
      break;
    }
    case Output::json:
      for (const auto& r : rows) write_json(row_record(r));
      break;
    case Output::csv: {
      CsvWriter w(stdout, {"process", "pid", "local_port", "close_wait", "unread_bytes"});
      for (const auto& r : rows) w.write(row_record(r));
      break;
    }
    case Output::prometheus:
      prom.describe("tcpstate_close_wait_sockets", "CLOSE_WAIT sockets per process and local port.");
      for (const auto& r : rows)
        prom.sample("tcpstate_close_wait_sockets",
                    {{"process", r.process}, {"pid", std::to_string(r.pid)}, {"local_port", std::to_string(r.local_port)}},
                    static_cast<double>(r.count));
      break;
  }
  Record summary;
  summary["view"] = "close-wait";
  summary["source"] = info->name;
  summary["close_wait"] = analysis.total();
  return finish_view(o, counts, summary, &prom);
}

}  // namespace tcpstate
