#include "tcpkit/sockets/state_diagram.hpp"

#include <algorithm>

#include "tcpkit/util/output.hpp"

namespace tcpkit {

namespace {

// DOT's double-quoted strings: quotes and backslashes escaped (titles come from the user's
// namespace name, so anything may be in them).
std::string dot_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string node_id(TcpState s) { return std::string(state_name(s)); }

}  // namespace

std::string state_diagram_dot(const std::vector<EdgeStats>& observed, const std::string& title) {
  std::string dot = "digraph tcp_states {\n";
  dot += "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, labelloc=b, label=" + dot_string(title) + "];\n";
  dot += "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", fontname=\"Helvetica\", fontsize=11];\n";
  dot += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (TcpState s : kAllTcpStates) {
    const std::string label = s == TcpState::close ? "CLOSED\n(Linux: CLOSE)" : std::string(state_name(s));
    dot += "  " + node_id(s) + " [label=" + dot_string(label) + "];\n";
  }
  // The opening states on one rank, the closing ones below: the RFC's picture, roughly.
  dot += "  { rank=same; SYN_SENT; SYN_RECV; }\n  { rank=same; FIN_WAIT1; CLOSE_WAIT; }\n";
  dot += "  { rank=same; FIN_WAIT2; CLOSING; LAST_ACK; }\n";
  auto find = [&](TcpState from, TcpState to) {
    return std::find_if(observed.begin(), observed.end(), [&](const EdgeStats& e) { return e.from == from && e.to == to; });
  };
  auto edge = [&](TcpState from, TcpState to, const EdgeStats* e) {
    const std::string anomaly(edge_anomaly(from, to));
    std::string attrs;
    if (!e) {
      attrs = "color=\"#bbbbbb\", fontcolor=\"#bbbbbb\", style=dashed, label=\"\"";
    } else {
      std::string label = std::to_string(e->count);
      if (e->median_ms) label += "\nmedian " + format_duration_ms(*e->median_ms);
      if (!anomaly.empty()) label += "\n" + anomaly;
      attrs = "label=" + dot_string(label);
      attrs += anomaly.empty() ? ", color=\"#1f5fa8\", penwidth=1.6" : ", color=\"#c62828\", fontcolor=\"#c62828\", penwidth=2.4";
    }
    // Edges back to CLOSED do not pull it down: it stays on top, as in the RFC's picture.
    if (to == TcpState::close) attrs += ", constraint=false";
    dot += "  " + node_id(from) + " -> " + node_id(to) + " [" + attrs + "];\n";
  };
  for (const auto& [from, to] : rfc9293_edges()) {
    const auto it = find(from, to);
    edge(from, to, it == observed.end() ? nullptr : &*it);
  }
  // Edges Linux takes that the RFC's diagram has not (aborts to CLOSE, mostly): drawn only when seen.
  for (const EdgeStats& e : observed) {
    const auto& rfc = rfc9293_edges();
    if (std::find(rfc.begin(), rfc.end(), std::pair{e.from, e.to}) == rfc.end()) edge(e.from, e.to, &e);
  }
  return dot + "}\n";
}

}  // namespace tcpkit
