#pragma once
// tcpstate follow --diagram: the TCP state diagram (RFC 9293's edges in Linux's states) as a
// Graphviz DOT graph, each edge with what was observed on it: its count and the median time in
// the state it leaves. Edges never taken are grey and dashed, anomalous ones taken are red.
// Graphviz (dot) lays it out and draws it; this only writes the graph.
#include <string>
#include <vector>

#include "tcpkit/sockets/state_edges.hpp"

namespace tcpkit {

// title: a line under the diagram (what was followed, for how long).
std::string state_diagram_dot(const std::vector<EdgeStats>& observed, const std::string& title);

}  // namespace tcpkit
