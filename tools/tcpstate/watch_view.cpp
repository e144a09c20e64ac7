// --watch SECONDS: the per-state counts again and again, with the change since the last round.
#include <poll.h>

#include <chrono>

#include "common/cli_common.hpp"
#include "text_format.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

// A terminal shows each round in place: cursor home, then clear the screen.
constexpr const char* kClearScreen = "\033[H\033[2J";
constexpr double kMillisecondsPerSecond = 1000;

// One round's counts, and the previous round's when there was one (the deltas).
struct Round {
  long long number = 0;
  double elapsed = 0;
  const StateCounts& counts;
  const std::optional<StateCounts>& previous;
  const std::string& source;

  long long delta(TcpState s) const {
    return previous ? static_cast<long long>(counts.get(s)) - static_cast<long long>(previous->get(s)) : 0;
  }
};

void print_round_table(const Options& o, const Round& r, bool tty) {
  TextTable t({"STATE", "COUNT", "DELTA"});
  for (TcpState s : kAllTcpStates) {
    const long long d = r.delta(s);
    t.add_row({std::string(state_name(s)), std::to_string(r.counts.get(s)), (d > 0 ? "+" : "") + std::to_string(d)});
  }
  const long long dt =
      r.previous ? static_cast<long long>(r.counts.total()) - static_cast<long long>(r.previous->total()) : 0;
  t.add_row({"TOTAL", std::to_string(r.counts.total()), (dt > 0 ? "+" : "") + std::to_string(dt)});
  std::string out = tty ? kClearScreen : (r.number > 1 ? "\n" : "");
  out += "tcpstate --watch " + format_fixed(*o.watch_seconds, 1) + "s  round " + std::to_string(r.number) + "  elapsed " +
         format_fixed(r.elapsed, 1) + "s  source " + r.source + "\n" + t.render();
  write_stdout(out);
}

// JSON Lines or CSV: one record per state.
void print_round_records(const Options& o, const Round& r, std::optional<CsvWriter>& csv) {
  for (TcpState s : kAllTcpStates) {
    Record rec;
    if (o.output == Output::json) rec["type"] = "watch";
    rec["round"] = r.number;
    rec["elapsed_s"] = r.elapsed;
    rec["state"] = state_name(s);
    rec["count"] = r.counts.get(s);
    rec["delta"] = r.delta(s);
    if (csv) csv->write(rec);
    else write_json(rec);
  }
}

// JSON always ends with the summary, even when a signal came before the first round.
void print_watch_summary(long long rounds, const std::optional<StateCounts>& last) {
  Record summary;
  summary["type"] = "summary";
  summary["view"] = "watch";
  summary["rounds"] = rounds;
  if (last) {
    summary["sockets"] = last->total();
    summary["states"] = states_record(*last);
  }
  if (cli::interrupted()) summary["interrupted"] = true;
  write_json(summary);
}

}  // namespace

int run_watch(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<StateCounts> previous;
  std::optional<CsvWriter> csv;
  if (o.output == Output::csv) csv.emplace(stdout, std::vector<std::string>{"round", "elapsed_s", "state", "count", "delta"});
  const bool tty = cli::stdout_redraws();
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
    const Round r{round, elapsed, counts, previous, info->name};
    if (o.output == Output::table) print_round_table(o, r, tty);
    else print_round_records(o, r, csv);
    previous = counts;
    rounds = round;
    if (o.watch_count && round == o.watch_count) break;
    pollfd p{cli::interrupt_fd(), POLLIN, 0};
    poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(*o.watch_seconds * kMillisecondsPerSecond));
    if (cli::interrupted()) break;
  }
  if (o.output == Output::json) print_watch_summary(rounds, previous);
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
                    std::to_string(kernel_number(s)) + ")\n" + prose("  " + std::string(e.summary), 2) + "\n";
  out += "How a socket gets here:\n" + prose("  " + std::string(e.enter), 2) + "\n";
  out += "What makes it leave:\n" + prose("  " + std::string(e.leave), 2) + "\n";
  out += "What a large count usually means:\n" + prose("  " + std::string(e.many), 2);
  write_stdout(out);
  return cli::kExitPositive;
}

}  // namespace tcpstate
