#pragma once
// The one record every socket-table source produces (netlink sock_diag, /proc/net/tcp,
// saved ss and netstat text), and what the text parsers report about lines they could not read.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

// The kernel's timer kinds (idiag_timer, /proc "tr"); names as ss -o prints them.
enum class TimerKind : uint8_t { none, retransmit, keepalive, time_wait, zero_window_probe, unknown };
std::string_view timer_name(TimerKind t);  // "off", "on", "keepalive", "timewait", "persist", "unknown"
std::optional<TimerKind> parse_timer_name(std::string_view text);  // the same names, netstat's too
// The count shown with a timer, as sock_diag gives it: the probes sent for a keepalive or
// zero-window probe timer, the retransmissions for the others. /proc/net/tcp and netstat -o
// print both numbers (retrnsmt and timeout; "(secs/retransmits/probes)").
constexpr uint32_t timer_count(TimerKind kind, uint32_t retransmits, uint32_t probes) {
  return kind == TimerKind::keepalive || kind == TimerKind::zero_window_probe ? probes : retransmits;
}

// One owner of a socket: what ss -p prints as ("name",pid=1,fd=3).
struct ProcessRef {
  std::string name;
  int pid = 0;
  int fd = -1;
  bool operator==(const ProcessRef&) const = default;
  auto operator<=>(const ProcessRef&) const = default;
};

// The TCP_INFO details tcpstate shows with -i (a subset of struct tcp_info).
struct TcpInfoSummary {
  uint32_t rtt_us = 0;
  uint32_t rttvar_us = 0;
  uint32_t rto_us = 0;
  uint32_t cwnd = 0;
  uint32_t ssthresh = 0;  // 0: not reported (the kernel's "infinite" initial value)
  uint32_t mss = 0;
  uint32_t retrans = 0;        // segments retransmitted and not yet acknowledged
  uint32_t total_retrans = 0;  // over the connection's life
  uint32_t unacked = 0;
  uint32_t lost = 0;
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;
};

struct SocketRecord {
  TcpState state = TcpState::close;
  IpAddress local;
  IpAddress remote;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  std::string interface;  // bound device or IPv6 zone ("eth0"), empty when none
  uint32_t recv_q = 0;    // LISTEN: current accept queue
  uint32_t send_q = 0;    // LISTEN: the backlog (not known from /proc)
  TimerKind timer = TimerKind::none;
  std::optional<int64_t> timer_ms;  // time left on the timer
  uint32_t retransmits = 0;         // the timer's retransmission / probe count
  std::optional<uint32_t> uid;
  std::optional<uint64_t> inode;  // 0 for sockets no process holds (TIME_WAIT, SYN_RECV)
  std::vector<ProcessRef> processes;
  std::optional<TcpInfoSummary> info;
  // Saved text without -n prints names. A host name is kept as given (the address is then the
  // unspecified one of the family); a service name this machine's services database does not
  // know is kept too (the port is then 0). Empty when the text was numeric.
  std::string local_host, remote_host;
  std::string local_service, remote_service;
  bool family_known = true;  // false: both ends are host names and no column gave the family

  Family family() const { return local.family(); }
};

// A host as the text gave it: the name when it held one, else the address ("web-1", "10.0.0.1").
inline std::string host_text(const IpAddress& address, const std::string& name) {
  return name.empty() ? address.to_string() : name;
}

// Called for each socket; return false to stop early (Ctrl-C).
using SocketSink = std::function<bool(SocketRecord&)>;

// {"type":"socket","state":"ESTABLISHED","family":"ipv4","local_address":...}: the JSON form.
// Optional fields appear only when the source knew them.
Record to_record(const SocketRecord& socket);
// The same record for a CSV row under socket_csv_columns(): no "type", the processes as
// owners_text, and rtt_us, cwnd and total_retrans of TCP_INFO as columns of their own.
Record to_csv_record(const SocketRecord& socket);
const std::vector<std::string>& socket_csv_columns();
// "nginx[812]/6,nginx[813]/6" (the fd left out when unknown), "-" for none: as ss -p shows them.
std::string owners_text(const std::vector<ProcessRef>& owners);
// "ipv4" / "ipv6".
std::string_view family_name(Family f);

// What a text parser says about its input: counts and warnings with line numbers.
struct ParseWarning {
  size_t line = 0;
  std::string message;
};

// Names the parser kept as names: how many sockets had one, and the first few distinct ones.
struct NameTally {
  size_t sockets = 0;
  std::vector<std::string> examples;  // at most kExamples, in order of appearance

  static constexpr size_t kExamples = 5;
  void add(std::string_view name);
};

struct TextParseReport {
  size_t lines = 0;      // lines read
  size_t sockets = 0;    // TCP sockets produced
  size_t skipped = 0;    // headers, blank lines, other protocols
  size_t malformed = 0;  // lines that produced a warning
  std::vector<ParseWarning> warnings;  // the first kMaxWarnings of them
  NameTally host_names;        // sockets with a host name (not an address) at either end
  NameTally unknown_services;  // sockets with a service name the services database lacks
  NameTally cut_endpoints;     // netstat endpoints cut at the column width (no -W)
  size_t unknown_family = 0;   // sockets with host names at both ends and no family column
  size_t owners_unreadable = 0;  // ss sockets kept without their process list: it was cut or unreadable
  size_t rejoined_lines = 0;     // ss lines wrapped (fold, a terminal's copy) and read whole again
  // The line where a second ss or netstat output began (its header, after sockets): reading
  // stopped there, the first output alone was read (0: one output).
  size_t second_output_line = 0;
  bool state_column_missing = false;  // `ss ... state X` capture and no state given: reading stopped
  bool given_state_unused = false;    // a state was given, but the text has a State column of its own
  // The states of the sockets read. ss without -a leaves LISTEN, SYN-RECV and TIME-WAIT out, and
  // netstat without -a LISTEN: a capture saved so reads as a host that has none.
  StateSet states_seen;

  static constexpr size_t kMaxWarnings = 100;
  void warn(size_t line, std::string message);
};

// A line as saved on Windows ends in "\r": the same line without it.
std::string_view without_cr(std::string_view line);

// Splits text into lines (without '\n' or a trailing '\r') and calls fn(line_number, line)
// for each; stops early when fn returns false. Never reads past the text. With strip_cr false
// a '\r' is left for fn to drop (the line parsers drop exactly one themselves).
void for_each_line(std::string_view text, const std::function<bool(size_t, std::string_view)>& fn,
                   bool strip_cr = true);

// The whitespace-separated fields of a line, as views into it (their offsets are known by
// pointer difference with the line's data()). At most max_fields; the rest is not split.
std::vector<std::string_view> split_fields(std::string_view line, size_t max_fields = 64);
// The same into `out` (cleared first, its capacity kept): a parser that splits every line
// reuses one vector instead of allocating one a line.
void split_fields(std::string_view line, std::vector<std::string_view>& out, size_t max_fields = 64);

// The shell prompt and command a user copied with the text ("$ ss -tan", "root@web1:~# sudo
// /bin/netstat -tan"): the fields before `program` end in a prompt character, with `sudo`
// between them allowed. No socket line holds such a field.
bool is_command_line(const std::vector<std::string_view>& fields, std::string_view program);

// Strict unsigned decimal and hexadecimal numbers: the whole text must be digits.
std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max = UINT64_MAX);
std::optional<uint64_t> parse_hex(std::string_view text, uint64_t max = UINT64_MAX);

// "10.0.0.1:22", "[2001:db8::1]:443", "[fe80::1%eth0]:22", "[fe80::1]%eth0:22", "0.0.0.0%lo:53",
// ":::22", "::ffff:10.0.0.1:80", "*:22", "0.0.0.0:*": an endpoint as ss and netstat print it.
// A '*' address is unspecified with family star_family; a '*' port is 0.
// With names allowed (text saved without -n): "0.0.0.0:http", "[::]:ssh", "localhost:domain",
// "web-1.example:x11-1". Service names go through `services` (nullptr: names are refused);
// a host name that is not an address is kept in host_name (address stays unspecified).
class ServiceNames;
struct ParsedEndpoint {
  IpAddress address;
  uint16_t port = 0;
  std::string interface;
  bool star_address = false;
  std::string host_name;     // a name instead of an address
  std::string service_name;  // a service name the services database does not know
};
std::optional<ParsedEndpoint> parse_text_endpoint(std::string_view text, Family star_family = Family::v4,
                                                  ServiceNames* services = nullptr);

// What the ss and netstat parsers share: two parsed endpoints into a record (addresses, ports,
// zone, names), and, once the line is read, the names it kept counted in the report.
void set_text_endpoints(SocketRecord& s, ParsedEndpoint& local, ParsedEndpoint& peer);
// count_host_names false: the record's only "host names" are addresses netstat cut, which are
// counted apart.
void tally_text_names(const SocketRecord& s, TextParseReport& report, bool count_host_names = true);

}  // namespace tcpkit
