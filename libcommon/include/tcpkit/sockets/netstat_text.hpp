#pragma once
// Reads saved `netstat -tan` output (net-tools), with -o, -p and -e, into socket records.
// Columns come from the header line when there is one; program names may hold spaces.
// netstat cuts long IPv6 addresses unless run with -W: such lines become warnings.
// A malformed line becomes a warning with its line number and the rest is still read.
// Without -n (netstat -ta), service names go through the services database and host names
// stay names; the family comes from the Proto column (tcp6 lines print IPv4-mapped peers as
// plain IPv4). A host cut at the column width is kept as the cut name and counted.
// busybox netstat prints "tcp" for IPv6 too: its IPv6 addresses say so, and from then on its
// fields are known whole (busybox pads to 23 columns but never cuts: ::ffff:10.0.0.1:40000).
#include <memory>
#include <string_view>

#include "tcpkit/sockets/socket_record.hpp"

namespace tcpkit {

// Reads netstat text line by line, as it arrives.
class NetstatTextParser {
 public:
  NetstatTextParser(SocketSink sink, TextParseReport& report);
  ~NetstatTextParser();
  NetstatTextParser(const NetstatTextParser&) = delete;
  NetstatTextParser& operator=(const NetstatTextParser&) = delete;
  // False when the sink asked to stop, or at a second output's header (report.second_output_line).
  bool line(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

void parse_netstat_text(std::string_view text, const SocketSink& sink, TextParseReport& report);

// Which saved text this is: ss, netstat, or neither (looks at the first meaningful lines).
enum class SocketTextFormat { unknown, ss, netstat };
SocketTextFormat detect_socket_text_format(std::string_view text);
// One line's verdict (unknown: this line does not tell; blank lines do not count).
SocketTextFormat detect_socket_text_line(std::string_view line);

}  // namespace tcpkit
