// --summary (a count for each of the 11 states, IPv4 and IPv6, and of unknown family when saved
// text named both ends) and --by (top N groups with
// their per-state counts).
#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

void print_summary(const Options& o, const StateCounts& c) {
  // The unknown-family column only when some socket has one: numeric input keeps its layout.
  const bool unknown = c.unknown_total() > 0;
  switch (o.output) {
    case Output::table: {
      std::vector<std::string> headers = {"STATE", "IPV4", "IPV6"};
      if (unknown) headers.emplace_back("UNKNOWN_FAMILY");
      headers.emplace_back("TOTAL");
      TextTable t(headers);
      uint64_t v4 = 0, v6 = 0;
      auto row = [&](std::string name, uint64_t a, uint64_t b, uint64_t u, uint64_t total) {
        std::vector<std::string> cells = {std::move(name), std::to_string(a), std::to_string(b)};
        if (unknown) cells.push_back(std::to_string(u));
        cells.push_back(std::to_string(total));
        t.add_row(cells);
      };
      for (TcpState s : kAllTcpStates)
        row(std::string(state_name(s)), c.v4[state_index(s)], c.v6[state_index(s)], c.unknown[state_index(s)], c.get(s));
      for (int i = 0; i < kTcpStateCount; ++i) v4 += c.v4[i], v6 += c.v6[i];
      row("TOTAL", v4, v6, c.unknown_total(), c.total());
      write_stdout(t.render());
      break;
    }
    case Output::json:
    case Output::csv: {
      std::optional<CsvWriter> csv;
      std::vector<std::string> columns = {"type", "state", "ipv4", "ipv6"};
      if (unknown) columns.emplace_back("unknown_family");
      columns.emplace_back("total");
      if (o.output == Output::csv) csv.emplace(stdout, columns);
      for (TcpState s : kAllTcpStates) {
        Record r;
        r["type"] = "state";
        r["state"] = state_name(s);
        r["ipv4"] = c.v4[state_index(s)];
        r["ipv6"] = c.v6[state_index(s)];
        if (unknown) r["unknown_family"] = c.unknown[state_index(s)];
        r["total"] = c.get(s);
        if (csv) csv->write(r);
        else write_json(r);
      }
      break;
    }
    case Output::prometheus: break;  // the state gauges are written by finish_view
  }
}

// Only the states some group has get a column.
std::vector<TcpState> used_states(const std::vector<GroupRow>& rows) {
  std::vector<TcpState> used;
  for (TcpState s : kAllTcpStates)
    for (const auto& r : rows)
      if (r.states[state_index(s)]) {
        used.push_back(s);
        break;
      }
  return used;
}

void print_groups_table(const std::vector<GroupRow>& rows, const std::string& key_name, const std::vector<TcpState>& used,
                        size_t groups) {
  std::vector<std::string> headers = {key_name == "peer" ? "PEER" : key_name == "process" ? "PROCESS"
                                      : key_name == "local-port" ? "LOCAL_PORT" : "REMOTE_PORT", "TOTAL"};
  for (TcpState s : used) headers.emplace_back(state_name(s));
  TextTable t(headers);
  for (const auto& r : rows) {
    std::vector<std::string> cells = {r.key, std::to_string(r.total)};
    for (TcpState s : used) cells.push_back(std::to_string(r.states[state_index(s)]));
    t.add_row(cells);
  }
  // Eleven states do not fit 80 columns beside the key: blocks of columns, the key in each.
  std::string out = t.render_within(cli::kTerminalColumns, 2);
  if (groups > rows.size()) out += "(top " + std::to_string(rows.size()) + " of " + cli::count_text(groups, "group") + "; --top N for more)\n";
  write_stdout(out);
}

void print_groups_json(const std::vector<GroupRow>& rows, const std::string& key_name, const std::vector<TcpState>& used) {
  for (const auto& r : rows) {
    Record j;
    j["type"] = "group";
    j["by"] = key_name;
    j["key"] = r.key;
    j["total"] = r.total;
    Record st = Record::object();
    for (TcpState s : used)
      if (r.states[state_index(s)]) st[std::string(state_name(s))] = r.states[state_index(s)];
    j["states"] = st;
    write_json(j);
  }
}

// Every state gets a column: a CSV's columns do not depend on the data.
void print_groups_csv(const std::vector<GroupRow>& rows, const std::string& key_name) {
  std::vector<std::string> cols = {"by", "key", "total"};
  for (TcpState s : kAllTcpStates) cols.emplace_back(state_key(s));
  CsvWriter w(stdout, cols);
  w.write_header();  // no group still has its columns
  for (const auto& r : rows) {
    Record j;
    j["by"] = key_name;
    j["key"] = r.key;
    j["total"] = r.total;
    for (TcpState s : kAllTcpStates) j[std::string(state_key(s))] = r.states[state_index(s)];
    w.write(j);
  }
}

void print_groups(const Options& o, const std::vector<GroupRow>& rows, GroupBy by, size_t groups, PrometheusText& prom) {
  const std::vector<TcpState> used = used_states(rows);
  const std::string key_name = std::string(group_by_name(by));
  switch (o.output) {
    case Output::table: print_groups_table(rows, key_name, used, groups); break;
    case Output::json: print_groups_json(rows, key_name, used); break;
    case Output::csv: print_groups_csv(rows, key_name); break;
    case Output::prometheus:
      prom.describe("tcpstate_group_sockets", "TCP sockets of the top groups of --by, by state.");
      for (const auto& r : rows)
        for (TcpState s : used)
          prom.sample("tcpstate_group_sockets", {{"by", key_name}, {"key", r.key}, {"state", std::string(state_key(s))}},
                      static_cast<double>(r.states[state_index(s)]));
      break;
  }
}

}  // namespace

int run_summary(const Options& o) {
  StateCounts counts;
  std::optional<GroupCounter> groups;
  if (o.by == GroupBy::local_port || o.by == GroupBy::remote_port) {
    // Which ports are a client's own: the inspected namespace's range (for saved text, this
    // machine's), as the time-wait and close-wait reports decide it.
    const TcpSysctls sys = read_tcp_sysctls();
    groups.emplace(*o.by, sys.port_low(), sys.port_high());
    groups->set_listener_list(listener_list(o.filter, live_source(o)));
  } else if (o.by) {
    groups.emplace(*o.by);
  }
  const bool need_processes = o.by == GroupBy::process;
  auto info = collect_sockets(o, StateSet::all(), need_processes, [&](SocketRecord& s) {
    counts.add(s);
    if (groups) groups->add(s);
    return true;
  });
  if (!info) return fail_with(info.error());
  PrometheusText prom;
  if (o.output == Output::prometheus) add_state_metrics(prom, counts);
  if (o.summary) print_summary(o, counts);
  Record summary;
  summary["view"] = o.by ? "by" : "summary";
  summary["source"] = info->name;
  summary["sockets"] = counts.total();
  if (groups) {
    const auto rows = groups->top(o.top);
    if (o.summary && o.output == Output::table) write_stdout("\n");
    print_groups(o, rows, *o.by, groups->groups(), prom);
    summary["by"] = group_by_name(*o.by);
    summary["groups"] = groups->groups();
  }
  summary["states"] = states_record(counts);
  return finish_view(o, *info, counts, summary, &prom);
}

}  // namespace tcpstate
