#pragma once
// tcppath's output: one line (or JSON object) per hop, then the destination and the verdict.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/wording.hpp"
#include "tcpkit/probe/path_flows.hpp"
#include "tcpkit/probe/path_trace.hpp"
#include "tcpkit/util/output.hpp"
#include "tcppath/options.hpp"

namespace tcppath {

constexpr size_t kTextWidth = tcpkit::cli::kTerminalColumns;

// interrupted: Ctrl-C (or SIGTERM) ended the wait; the trace is what came before it. names: the
// routers' names that reverse lookups found.
// One hop as its JSON object (the single-flow report's "type":"hop"), and why a trace ended.
tcpkit::Record hop_record(const tcpkit::PathTrace& trace, const tcpkit::HopResult& hop);
const char* ended_name(const tcpkit::PathTrace& trace, bool interrupted);

void report(const tcpkit::PathTrace& trace, const tcpkit::IpAddress& destination, uint16_t port, tcpkit::Format format,
            bool interrupted, const Names& names);

// --flows N: every flow's hops (JSON: each with its flow and source port), then the multipath
// view: the routers at each hop with their flow counts, where the paths diverge and rejoin.
void report_flows(const std::vector<tcpkit::PathTrace>& traces, const tcpkit::FlowsSummary& summary,
                  const tcpkit::IpAddress& destination, uint16_t port, tcpkit::Format format, bool interrupted,
                  const Names& names);

}  // namespace tcppath
