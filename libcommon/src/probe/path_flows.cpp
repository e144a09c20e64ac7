// The multipath view: per hop, count each router over the flows; the first hop with more than
// one router is where the paths diverge, the next with one again (or the destination, which
// every flow reaches at one address) is where they rejoin.
#include "tcpkit/probe/path_flows.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace tcpkit {

namespace {

std::string flows_text(int n, int of) {
  return std::to_string(n) + " of " + std::to_string(of) + " flows";
}

// The fields each flow sets on its own (its source port, seq, IP ID, flow label and TSvals):
// one middlebox's rewrite of them shows another "before" in every flow. Such a change is told
// by its field alone, "ip_id rewritten" ("... to 0" when every flow came out the same), so that
// it counts as one change on so many flows, not as one change per flow.
std::optional<std::string> per_flow_field(const FieldChange& c) {
  switch (c.field) {
    case SegmentField::sport:
    case SegmentField::seq:
    case SegmentField::ip_id:
    case SegmentField::flow_label: return std::string(field_name(c.field));
    case SegmentField::options:
      if (c.option && c.option->kind == tcp_option::timestamps && c.option->what == OptionChange::What::changed)
        return std::string("TSval");
      return std::nullopt;
    default: return std::nullopt;
  }
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
  std::map<size_t, std::set<std::string>> rewritten_to;  // a per-flow field's change: the values it came out as
  for (const PathTrace& t : traces)
    for (const AttributedChange& c : t.summary.changes) {
      const auto field = per_flow_field(c.change);
      const std::string phrase = field ? *field + " rewritten" : change_phrase(c.change), where = attribution_text(c);
      auto it = std::find_if(out.changes.begin(), out.changes.end(),
                             [&](const FlowsChange& f) { return f.phrase == phrase && f.where == where; });
      if (it == out.changes.end()) it = out.changes.insert(out.changes.end(), FlowsChange{phrase, where, 0});
      ++it->flows;
      if (field) rewritten_to[size_t(it - out.changes.begin())].insert(c.change.field == SegmentField::options ? "" : c.change.after);
    }
  for (const auto& [i, values] : rewritten_to)
    if (values.size() == 1 && !values.begin()->empty()) out.changes[i].phrase += " to " + *values.begin();

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
