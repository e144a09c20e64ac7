#pragma once
// The source ports a scan sends from, held for the run as tcpprobe holds its own: a local
// connection from one of them (a widened ip_local_port_range, an application that binds) would
// draw the target's answers to it (challenge ACKs) instead of ours, and the port would look
// filtered.
#include <vector>

#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

// Binds a TCP socket to every port a round may send from, and the ACK check's after them, on
// each source address of this host (a spoofed -S is not ours to bind, nor a -g below 1024
// without CAP_NET_BIND_SERVICE: skipped). Without -g
// (config.fixed_source_port false), when one is in use, the next free run of ports in
// 61000-64999 is taken and config.source_port moved to it; with -g, a port in use is refused.
// The sockets hold the ports until they are closed; they match no arriving segment.
Result<std::vector<UniqueFd>> hold_source_ports(const ScanSources& sources, ScanConfig& config);

}  // namespace tcpkit
