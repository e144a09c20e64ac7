#pragma once
// tcppath's output: one line (or JSON object) per hop, then the destination and the verdict.
#include <cstdint>

#include "tcpkit/probe/path_trace.hpp"
#include "tcpkit/util/output.hpp"
#include "tcppath/options.hpp"

namespace tcppath {

// interrupted: Ctrl-C (or SIGTERM) ended the wait; the trace is what came before it. names: the
// routers' names that reverse lookups found.
void report(const tcpkit::PathTrace& trace, const tcpkit::IpAddress& destination, uint16_t port, tcpkit::Format format,
            bool interrupted, const Names& names);

}  // namespace tcppath
