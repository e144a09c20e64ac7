#pragma once
// Several traces of one path, each over a flow of its own (another source port), put together
// as Paris traceroute's multipath view does: at each hop the routers seen and how many flows
// went through each, where the paths diverge and where they rejoin, and each change of the SYN
// with how many flows showed it (a middlebox on one of two parallel paths changes only some).
// Pure: the traces are collected elsewhere; this only reads them (unit-tested on its own).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tcpkit/probe/path_trace.hpp"

namespace tcpkit {

struct HopRouters {
  int hop = 0;
  std::vector<std::pair<IpAddress, int>> routers;  // each router and the flows it answered for, in order of first sight
  int silent = 0;                                  // flows with no answer at this hop
};

struct FlowsChange {
  std::string phrase;  // change_phrase(): "MSS clamped to 1200"
  std::string where;   // attribution_text(): "between hop 2 and hop 3"
  int flows = 0;       // how many flows showed it there
};

struct FlowsSummary {
  int flows = 0;
  int reached = 0;                  // flows whose SYN the destination answered
  std::vector<HopRouters> hops;     // 1..the deepest hop any flow showed
  int paths = 0;                    // distinct sequences of routers (one with a silent hop only if no answered one fits it)
  int diverge_after = 0;            // the hop before the first hop with two routers or more (-1: one path)
  int rejoin_at = 0;                // the first later hop with one router again, or the destination's hop (0: not seen)
  std::vector<FlowsChange> changes;
  std::string verdict;              // one paragraph
};

FlowsSummary summarize_flows(const std::vector<PathTrace>& traces);

// The configurations of flows traces run at once: flow i's probes carry IP IDs from
// first_ip_id + i * path_probe_count() and TSvals from the SYN's own + i * path_probe_count()
// (when it has timestamps), so that no flow's IDs overlap another's: every quote reaches every
// flow's capture, and each must pair only its own. Sequence numbers are random per trace.
std::vector<PathTraceConfig> flow_configs(const PathTraceConfig& config, int flows, uint16_t first_ip_id);

}  // namespace tcpkit
