#pragma once
// Reads saved `ss -tan` output, with any mix of -o -e -p -i, into socket records. Tolerates
// both iproute2 timer spellings, TIME-WAIT/TIME_WAIT, IPv6 brackets and zones, process names
// with spaces, commas and parentheses, a Netid column, header and blank lines. A malformed
// line becomes a warning with its line number and the rest is still read. Never throws.
// Text saved without -n is read too: service names through the services database, host names
// (ss -r) kept as names. A capture of `ss state X` has no State column: the state is then given.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

// Reads ss text line by line, as it arrives (a pipe, a file read in chunks): each socket goes
// to the sink once its line is read and the next line shows it has no more -i details.
class SsTextParser {
 public:
  // state_if_missing: the state of every socket of a capture without a State column.
  SsTextParser(SocketSink sink, TextParseReport& report, std::optional<TcpState> state_if_missing = std::nullopt);
  ~SsTextParser();
  SsTextParser(const SsTextParser&) = delete;
  SsTextParser& operator=(const SsTextParser&) = delete;
  // One line without its '\n'. False when the sink asked to stop, when the capture has no
  // State column and no state was given (report.state_column_missing is then set), or at a
  // second output's header (report.second_output_line; the first output's sockets have all
  // gone to the sink). A line wrapped by fold or a terminal's copy, anywhere, is joined with
  // its tail and read whole (report.rejoined_lines). Once it
  // has returned false, line() and finish() do nothing more and return false.
  bool line(std::string_view text);
  // The end of the input: the sockets still held go to the sink.
  bool finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole text at once (tests, small inputs).
void parse_ss_text(std::string_view text, const SocketSink& sink, TextParseReport& report,
                   std::optional<TcpState> state_if_missing = std::nullopt);

// "200ms", "040ms", "58sec", "1min2sec", "119min", "2.5sec", and "1.488ms", which iproute2
// up to 6.x prints for 1.488 seconds (a seconds.millis value with an "ms" suffix).
// Returns milliseconds, or nullopt when the text is not a timer value.
std::optional<int64_t> parse_ss_duration_ms(std::string_view text);

// The -i details found in the fields of a line (rtt:, rto:, cwnd:, ssthresh:, mss:, retrans:,
// unacked:, lost:, bytes_acked:, bytes_received:); returns whether any was found.
bool parse_ss_info_fields(std::string_view text, TcpInfoSummary& info);

// users:(("name",pid=1,fd=3),("a b",pid=2,fd=4)) and the old users:(("name",1,3)): the
// owners; nullopt when malformed. `consumed` is set to the length of the users:(...) text.
std::optional<std::vector<ProcessRef>> parse_ss_users(std::string_view text, size_t& consumed);

}  // namespace tcpkit
