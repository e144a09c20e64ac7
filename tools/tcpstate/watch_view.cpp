// --watch SECONDS: the per-state counts again and again, with the change since the last round.
#include <poll.h>

#include <chrono>

#include "common/cli_common.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

int run_watch(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<StateCounts> previous;
  std::optional<CsvWriter> csv;
  if (o.output == Output::csv) csv.emplace(stdout, std::vector<std::string>{"round", "elapsed_s", "state", "count", "delta"});
  const bool tty = cli::stdout_is_tty();
  long long rounds = 0;  // shown
  for (long long round = 1; o.watch_count == 0 || round <= o.watch_count; ++round) {
    StateCounts counts;
    auto info = collect_sockets(o, StateSet::all(), false, [&](SocketRecord& s) {
      counts.add(s);
      return true;
    });
    if (!info) return fail_with(info.error());
    if (cli::interrupted()) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto delta = [&](TcpState s) -> long long {
      return previous ? static_cast<long long>(counts.get(s)) - static_cast<long long>(previous->get(s)) : 0;
    };
    if (o.output == Output::table) {
      TextTable t({"STATE", "COUNT", "DELTA"});
      for (TcpState s : kAllTcpStates) {
        const long long d = delta(s);
        t.add_row({std::string(state_name(s)), std::to_string(counts.get(s)), (d > 0 ? "+" : "") + std::to_string(d)});
      }
      const long long dt = previous ? static_cast<long long>(counts.total()) - static_cast<long long>(previous->total()) : 0;
      t.add_row({"TOTAL", std::to_string(counts.total()), (dt > 0 ? "+" : "") + std::to_string(dt)});
      std::string out = tty ? "\033[H\033[2J" : (round > 1 ? "\n" : "");
      out += "tcpstate --watch " + format_fixed(*o.watch_seconds, 1) + "s  round " + std::to_string(round) + "  elapsed " +
             format_fixed(elapsed, 1) + "s  source " + info->name + "\n" + t.render();
      write_stdout(out);
    } else {
      for (TcpState s : kAllTcpStates) {
        Record r;
        if (o.output == Output::json) r["type"] = "watch";
        r["round"] = round;
        r["elapsed_s"] = elapsed;
        r["state"] = state_name(s);
        r["count"] = counts.get(s);
        r["delta"] = delta(s);
        if (csv) csv->write(r);
        else write_json(r);
      }
    }
    previous = counts;
    rounds = round;
    if (o.watch_count && round == o.watch_count) break;
    pollfd p{cli::interrupt_fd(), POLLIN, 0};
    poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(*o.watch_seconds * 1000));
    if (cli::interrupted()) break;
  }
  // JSON always ends with the summary, even when a signal came before the first round.
  if (o.output == Output::json) {
    Record summary;
    summary["type"] = "summary";
    summary["view"] = "watch";
    summary["rounds"] = rounds;
    if (previous) {
      summary["sockets"] = previous->total();
      summary["states"] = states_record(*previous);
    }
    if (cli::interrupted()) summary["interrupted"] = true;
    write_json(summary);
  }
  return cli::kExitPositive;
}

int run_explain(const Options& o) {
  const TcpState s = *o.explain;
  const auto& e = explain_state(s);
  if (o.output == Output::json) {
    Record r;
    r["type"] = "explain";
    r["state"] = state_name(s);
    r["ss_name"] = state_ss_name(s);
    r["kernel_number"] = kernel_number(s);
    r["summary"] = e.summary;
    r["enter"] = e.enter;
    r["leave"] = e.leave;
    r["many"] = e.many;
    write_json(r);
    return cli::kExitPositive;
  }
  std::string out = std::string(state_name(s)) + " (ss: " + std::string(state_ss_name(s)) + ", kernel state " +
                    std::to_string(kernel_number(s)) + ")\n  " + std::string(e.summary) + "\n\n";
  out += "How a socket gets here:\n  " + std::string(e.enter) + "\n\n";
  out += "What makes it leave:\n  " + std::string(e.leave) + "\n\n";
  out += "What a large count usually means:\n  " + std::string(e.many) + "\n";
  write_stdout(out);
  return cli::kExitPositive;
}

}  // namespace tcpstate
