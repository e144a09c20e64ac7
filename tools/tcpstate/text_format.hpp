#pragma once
// Small text formatters for tcpstate's tables: endpoints as ss prints them, timers, owners,
// and appenders fast enough for listings of hundreds of thousands of rows.
#include <cstdint>
#include <string>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/sockets/socket_record.hpp"

namespace tcpstate {

void append_uint(std::string& out, uint64_t value);
// "10.0.0.1:22", "[2001:db8::1]:443", "0.0.0.0%lo:53", "[fe80::1]%eth0:22".
void append_endpoint(std::string& out, const tcpkit::IpAddress& address, uint16_t port, const std::string& interface);
// A line written column by column: how far it has been measured and its cells so far, so that
// each column measures only its own text (one pass over the line, not one per column).
struct LineCells {
  size_t measured_to = 0;  // byte offset in the output string: the line's start at first
  size_t cells = 0;
  bool ascii = true;  // all measured so far is printable ASCII (already terminal-safe)
};
// Pads out with spaces to the column, counted in display cells from the line's start (at least
// one space when the text already reached it).
void pad_to(std::string& out, LineCells& line, size_t column);
// Escapes what would garble a terminal (control characters, invalid UTF-8) in out from
// line_start on: the cells pad_to counted are then the cells shown. What the line's pad_to
// calls found printable ASCII is not looked at again.
void make_terminal_safe(std::string& out, size_t line_start, const LineCells& line);

std::string endpoint_text(const tcpkit::IpAddress& address, uint16_t port, const std::string& interface = "");
// An endpoint with the host or service name saved text gave instead of a number
// ("web-1.example:22", "10.0.0.1:x11-1"); as append_endpoint when both names are empty.
void append_named_endpoint(std::string& out, const tcpkit::IpAddress& address, uint16_t port, const std::string& interface,
                           const std::string& host, const std::string& service);
std::string named_endpoint_text(const tcpkit::IpAddress& address, uint16_t port, const std::string& host,
                                const std::string& interface = "");
// Prose under a report, folded at word boundaries to an 80-column terminal, with a newline;
// lines after the first start with `indent` spaces (the first keeps its own leading spaces).
std::string prose(std::string_view text, size_t indent = 0);
// "200ms", "58.1s", "1m59s", "-".
std::string duration_text(std::optional<int64_t> ms);
// "timewait:58.1s", "on:200ms/1", "-".
std::string timer_text(const tcpkit::SocketRecord& s);
// "rtt:0.071/0.035ms cwnd:10 retrans:0/1 mss:1448" or "".
std::string info_text(const tcpkit::SocketRecord& s);

}  // namespace tcpstate
