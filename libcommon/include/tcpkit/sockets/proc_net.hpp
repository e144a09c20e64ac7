#pragma once
// Reads /proc/net/tcp and /proc/net/tcp6 (the kernel's text socket tables) into socket
// records. Addresses there are 32-bit words in this machine's byte order, so the text is only
// meaningful on a machine of the same endianness (in practice: the one it was read on).
#include <string>
#include <string_view>

#include "tcpkit/util/error.hpp"
#include "tcpkit/sockets/socket_record.hpp"

namespace tcpkit {

// One data line ("  0: 0100007F:0016 00000000:0000 0A ..."); nullopt when malformed.
// ticks_per_second converts "tm->when" (clock ticks, USER_HZ) to milliseconds.
std::optional<SocketRecord> parse_proc_net_line(std::string_view line, bool v6, long ticks_per_second = 100);

// Whole-file text; header and blank lines are skipped, malformed lines become warnings.
void parse_proc_net_text(std::string_view text, bool v6, const SocketSink& sink, TextParseReport& report,
                         long ticks_per_second = 100);

// Reads /proc/net/tcp and/or tcp6 of the current network namespace and streams them.
// A missing tcp6 (IPv6 disabled) is not an error.
Result<TextParseReport> read_proc_net(bool want_v4, bool want_v6, const SocketSink& sink);

// The whole content of a file (for /proc files whose size is not known in advance).
Result<std::string> read_text_file(const std::string& path);

}  // namespace tcpkit
