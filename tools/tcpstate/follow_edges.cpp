// tcpstate follow --summary: each edge of the state diagram taken, how often (in all and since
// the last print), the median time in the state it leaves, and what an anomalous one means; in
// text, JSON or Prometheus. And --diagram: the same counts drawn by Graphviz.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "follow_outputs.hpp"
#include "prometheus.hpp"
#include "tcpkit/io/run_program.hpp"
#include "tcpkit/sockets/state_diagram.hpp"
#include "common/wording.hpp"
#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/output.hpp"
#include "views.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

constexpr auto kDotTimeout = std::chrono::seconds(20);

std::string edge_text(const EdgeStats& e) {
  return std::string(state_name(e.from)) + " -> " + std::string(state_name(e.to));
}

void print_prometheus(const std::vector<EdgeStats>& edges, const std::map<LifeEnd, uint64_t>& ended, uint64_t twins,
                      bool life, const FollowLosses& losses) {
  PrometheusText prom;
  prom.describe("tcpstate_follow_transitions_total", "TCP state changes seen, per edge of the state diagram", "counter");
  for (const EdgeStats& e : edges)
    prom.sample("tcpstate_follow_transitions_total",
                {{"from", std::string(state_key(e.from))}, {"to", std::string(state_key(e.to))}}, double(e.count));
  prom.describe("tcpstate_follow_time_in_state_median_seconds",
                "median time spent in the state an edge leaves, of the changes with a known time");
  for (const EdgeStats& e : edges)
    if (e.median_ms)
      prom.sample("tcpstate_follow_time_in_state_median_seconds",
                  {{"from", std::string(state_key(e.from))}, {"to", std::string(state_key(e.to))}}, *e.median_ms / 1000);
  if (life) {
    prom.describe("tcpstate_follow_connections_ended_total", "connections that ended, by how", "counter");
    for (const auto& [end, n] : ended) prom.sample("tcpstate_follow_connections_ended_total", {{"ended", std::string(life_end_key(end))}}, double(n));
  }
  prom.describe("tcpstate_follow_twin_children_total",
                "listeners' children thrown away for their twin of one handshake (SYN_RECV -> CLOSE, not counted as "
                "an edge: no failed handshake)",
                "counter");
  prom.sample("tcpstate_follow_twin_children_total", {}, double(twins));
  prom.describe("tcpstate_follow_lost_total", "state changes lost (the run is degraded when any is not 0)", "counter");
  prom.sample("tcpstate_follow_lost_total", {{"kind", "ring_drops"}}, double(losses.ring_drops));
  prom.sample("tcpstate_follow_lost_total", {{"kind", "recursion_misses"}}, double(losses.recursion_misses));
  prom.sample("tcpstate_follow_lost_total", {{"kind", "path_gaps"}}, double(losses.path_gaps));
  write_stdout(prom.text() + "\n");  // a blank line ends each block (--interval prints one each time)
}

}  // namespace

void EdgeReport::print(const Options& o, const WallClock& clock, double seconds, const FollowLosses& losses) {
  const std::vector<EdgeStats> edges = edges_.edges();
  auto fresh = [&](const EdgeStats& e) {
    const auto it = printed_.find({e.from, e.to});
    return e.count - (it == printed_.end() ? 0 : it->second);
  };
  if (o.output == Output::prometheus) {
    print_prometheus(edges, ended_, twins_, o.follow_life, losses);
  } else if (o.output == Output::json) {
    Record r;
    r["type"] = "edges";
    r["time_us"] = clock.unix_ns(monotonic_ns()) / 1000;
    r["seconds"] = seconds;
    r["transitions"] = edges_.total();
    Record list = Record::array();
    for (const EdgeStats& e : edges) {
      Record x;
      x["from"] = state_name(e.from);
      x["to"] = state_name(e.to);
      x["count"] = e.count;
      x["new"] = fresh(e);
      if (e.median_ms) x["median_ms"] = *e.median_ms;
      if (const auto a = edge_anomaly(e.from, e.to); !a.empty()) x["anomaly"] = a;
      list.push_back(std::move(x));
    }
    r["edges"] = std::move(list);
    r["twin_children"] = twins_;
    if (o.follow_life) {
      Record ended = Record::object();
      for (const auto& [end, n] : ended_) ended[std::string(life_end_key(end))] = n;
      r["connections_ended"] = std::move(ended);
    }
    write_json(r);
  } else {
    std::string text = clock.text(monotonic_ns()).substr(0, 8) + "  " + std::to_string(edges_.total()) + " changes in " +
                       format_fixed(seconds, 1) + " s\n";
    TextTable table({"EDGE", "COUNT", "NEW", "MEDIAN", "NOTE"});
    for (const EdgeStats& e : edges)
      table.add_row({edge_text(e), std::to_string(e.count), "+" + std::to_string(fresh(e)),
                     e.median_ms ? format_duration_ms(*e.median_ms) : "?", std::string(edge_anomaly(e.from, e.to))});
    if (!table.empty()) text += table.render();
    if (twins_)
      text += wrap_cells(cli::count_text(twins_, "child", "children") +
                             " thrown away for a twin (two children of one handshake, its ACKs taken at once on two "
                             "CPUs): not counted as SYN_RECV -> CLOSE, no failed handshake",
                         cli::kTerminalColumns, 0);
    if (o.follow_life && !ended_.empty()) {
      text += "connections ended:";
      bool first = true;
      for (const auto& [end, n] : ended_) {
        text += (first ? " " : ", ") + std::to_string(n) + " " + std::string(life_end_name(end));
        first = false;
      }
      text += "\n";
    }
    write_stdout(text + "\n");
  }
  for (const EdgeStats& e : edges) printed_[{e.from, e.to}] = e.count;
}

Result<std::string> prepare_diagram(const std::string& path) {
  const std::string dot = find_program({"/usr/bin/dot", "/usr/local/bin/dot", "/bin/dot"});
  if (dot.empty())
    return fail(ErrorCode::system, "--diagram needs Graphviz's dot, which is not installed (apt-get install graphviz)");
  // Made (or truncated) now: a path that cannot be written is known before the run, not after.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ErrorCode::bad_input, "--diagram " + path + ": " + std::strerror(errno));
  ::close(fd);
  return dot;
}

Result<void> write_diagram(const std::string& dot, const std::string& path, const EdgeCounter& edges,
                           const std::string& title) {
  auto r = run_program(dot, {"-Tsvg", "-o", path}, state_diagram_dot(edges.edges(), title),
                       std::chrono::duration_cast<std::chrono::milliseconds>(kDotTimeout));
  if (!r) return tl::unexpected(r.error());
  if (r->status != 0) {
    std::string why = r->err.substr(0, r->err.find('\n'));
    return fail(ErrorCode::system, "--diagram: dot failed: " + (why.empty() ? "exit " + std::to_string(r->status) : why));
  }
  return {};
}

}  // namespace tcpstate
