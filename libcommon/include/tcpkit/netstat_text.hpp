#pragma once
// Reads saved `netstat -tan` output (net-tools), with -o, -p and -e, into socket records.
// Columns come from the header line when there is one; program names may hold spaces.
// netstat cuts long IPv6 addresses unless run with -W: such lines become warnings.
// A malformed line becomes a warning with its line number and the rest is still read.
#include <string_view>

#include "tcpkit/socket_record.hpp"

namespace tcpkit {

void parse_netstat_text(std::string_view text, const SocketSink& sink, TextParseReport& report);

// Which saved text this is: ss, netstat, or neither (looks at the first meaningful lines).
enum class SocketTextFormat { unknown, ss, netstat };
SocketTextFormat detect_socket_text_format(std::string_view text);

}  // namespace tcpkit
