#pragma once
// Prints a connection trace: one line per segment, then a summary (text, JSON Lines or CSV).
#include "tcpkit/probe/connection_trace.hpp"
#include "tcpprobe/options.hpp"
#include "tcpprobe/probe_report.hpp"

namespace tcpprobe {

// ack_check: what one ACK to the port drew, asked when the SYNs drew no answer.
void print_trace(const Options& options, const TargetInfo& info, const tcpkit::TraceResult& trace,
                 const std::optional<tcpkit::AckCheckAnswer>& ack_check);

}  // namespace tcpprobe
