// The multipath view: per hop, count each router over the flows; the first hop with more than
// one router is where the paths diverge, the next with one again (or the destination, which
// every flow reaches at one address) is where they rejoin.
#include "tcpkit/probe/path_flows.hpp"

#include <algorithm>
#include <set>

namespace tcpkit {

namespace {

std::string flows_text(int n, int of) {
  return std::to_string(n) + " of " + std::to_string(of) + " flows";
}

}  // namespace

FlowsSummary summarize_flows(const std::vector<PathTrace>& traces) {
  FlowsSummary out;
  out.flows = int(traces.size());
  size_t depth = 0;
  for (const PathTrace& t : traces) {
    depth = std::max(depth, t.hops.size());
    if (t.summary.stop == PathStop::reached) ++out.reached;
  }
  for (size_t i = 0; i < depth; ++i) {
    HopRouters h;
    h.hop = int(i) + 1;
    for (const PathTrace& t : traces) {
      if (i >= t.hops.size()) continue;  // that flow reached the destination (or stopped) earlier
      const auto& router = t.hops[i].answer.router;
      if (!router) {
        ++h.silent;
        continue;
      }
      auto it = std::find_if(h.routers.begin(), h.routers.end(), [&](const auto& r) { return r.first == *router; });
      if (it == h.routers.end()) h.routers.emplace_back(*router, 1);
      else ++it->second;
    }
    out.hops.push_back(std::move(h));
  }
  // A path is a flow's sequence of routers; a silent hop ("*", an answer lost or never sent)
  // matches any router there, so a flow that lost one answer is not counted as a path of its own
  // when a fully answered flow fits it.
  std::set<std::vector<std::string>> full, partial;
  for (const PathTrace& t : traces) {
    std::vector<std::string> seq;
    for (const HopResult& h : t.hops) seq.push_back(h.answer.router ? h.answer.router->to_string() : "*");
    (std::find(seq.begin(), seq.end(), "*") == seq.end() ? full : partial).insert(seq);
  }
  auto fits = [](const std::vector<std::string>& with_gaps, const std::vector<std::string>& path) {
    if (with_gaps.size() != path.size()) return false;
    for (size_t i = 0; i < path.size(); ++i)
      if (with_gaps[i] != "*" && with_gaps[i] != path[i]) return false;
    return true;
  };
  out.paths = int(full.size());
  for (const auto& seq : partial)
    if (std::none_of(full.begin(), full.end(), [&](const auto& path) { return fits(seq, path); })) ++out.paths;
  out.diverge_after = -1;
  for (const HopRouters& h : out.hops) {
    if (out.diverge_after < 0) {
      if (h.routers.size() > 1) out.diverge_after = h.hop - 1;
    } else if (h.routers.size() == 1 && !out.rejoin_at) {  // the flows that answered agree
      out.rejoin_at = h.hop;
    }
  }
  if (out.diverge_after >= 0 && !out.rejoin_at && out.reached == out.flows && out.flows > 0) {
    int destination_hop = 0;
    for (const PathTrace& t : traces) destination_hop = std::max(destination_hop, t.destination_hop);
    out.rejoin_at = destination_hop;
  }
  for (const PathTrace& t : traces)
    for (const AttributedChange& c : t.summary.changes) {
      const std::string phrase = change_phrase(c.change), where = attribution_text(c);
      auto it = std::find_if(out.changes.begin(), out.changes.end(),
                             [&](const FlowsChange& f) { return f.phrase == phrase && f.where == where; });
      if (it == out.changes.end()) out.changes.push_back(FlowsChange{phrase, where, 1});
      else ++it->flows;
    }

  std::string words = std::to_string(out.flows) + " flows: ";
  if (out.diverge_after < 0) {
    words += "one path";
  } else {
    words += std::to_string(out.paths) + " paths, diverging after " +
             (out.diverge_after == 0 ? std::string("the sender") : "hop " + std::to_string(out.diverge_after));
    words += out.rejoin_at ? " and rejoining at hop " + std::to_string(out.rejoin_at) : " and not seen to rejoin";
  }
  for (const FlowsChange& c : out.changes) words += "; " + c.phrase + " " + c.where + " on " + flows_text(c.flows, out.flows);
  words += "; " + flows_text(out.reached, out.flows) + " reached the destination";
  out.verdict = words;
  return out;
}

std::vector<PathTraceConfig> flow_configs(const PathTraceConfig& config, int flows, uint16_t first_ip_id) {
  const size_t count = path_probe_count(config);
  const auto ts = config.syn_options.timestamps();
  std::vector<PathTraceConfig> out(size_t(std::max(flows, 0)), config);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].first_ip_id = uint16_t(first_ip_id + i * count);
    if (ts) out[i].syn_options.set_timestamps(uint32_t(ts->first + i * count), ts->second);
  }
  return out;
}

}  // namespace tcpkit
