#pragma once
// The one record every socket-table source produces (netlink sock_diag, /proc/net/tcp,
// saved ss and netstat text), and what the text parsers report about lines they could not read.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcpkit/ip_address.hpp"
#include "tcpkit/output.hpp"
#include "tcpkit/tcp_state.hpp"

namespace tcpkit {

// The kernel's timer kinds (idiag_timer, /proc "tr"); names as ss -o prints them.
enum class TimerKind : uint8_t { none, retransmit, keepalive, time_wait, zero_window_probe, unknown };
std::string_view timer_name(TimerKind t);  // "off", "on", "keepalive", "timewait", "persist", "unknown"
std::optional<TimerKind> parse_timer_name(std::string_view text);  // the same names, netstat's too

// One owner of a socket: what ss -p prints as ("name",pid=1,fd=3).
struct ProcessRef {
  std::string name;
  int pid = 0;
  int fd = -1;
  bool operator==(const ProcessRef&) const = default;
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

  Family family() const { return local.family(); }
};

// Called for each socket; return false to stop early (Ctrl-C).
using SocketSink = std::function<bool(SocketRecord&)>;

// {"type":"socket","state":"ESTABLISHED","family":"ipv4","local_address":...}: the JSON form.
// Optional fields appear only when the source knew them.
Record to_record(const SocketRecord& socket);
// "ipv4" / "ipv6".
std::string_view family_name(Family f);

// What a text parser says about its input: counts and warnings with line numbers.
struct ParseWarning {
  size_t line = 0;
  std::string message;
};

struct TextParseReport {
  size_t lines = 0;      // lines read
  size_t sockets = 0;    // TCP sockets produced
  size_t skipped = 0;    // headers, blank lines, other protocols
  size_t malformed = 0;  // lines that produced a warning
  std::vector<ParseWarning> warnings;  // the first kMaxWarnings of them

  static constexpr size_t kMaxWarnings = 100;
  void warn(size_t line, std::string message);
};

// Splits text into lines (without '\n' or a trailing '\r') and calls fn(line_number, line)
// for each; stops early when fn returns false. Never reads past the text.
void for_each_line(std::string_view text, const std::function<bool(size_t, std::string_view)>& fn);

// The whitespace-separated fields of a line, as views into it (their offsets are known by
// pointer difference with the line's data()). At most max_fields; the rest is not split.
std::vector<std::string_view> split_fields(std::string_view line, size_t max_fields = 64);

// Strict unsigned decimal and hexadecimal numbers: the whole text must be digits.
std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max = UINT64_MAX);
std::optional<uint64_t> parse_hex(std::string_view text, uint64_t max = UINT64_MAX);

// "10.0.0.1:22", "[2001:db8::1]:443", "[fe80::1%eth0]:22", "[fe80::1]%eth0:22", "0.0.0.0%lo:53",
// ":::22", "::ffff:10.0.0.1:80", "*:22", "0.0.0.0:*": an endpoint as ss and netstat print it.
// A '*' address is unspecified with family star_family; a '*' port is 0.
struct ParsedEndpoint {
  IpAddress address;
  uint16_t port = 0;
  std::string interface;
  bool star_address = false;
};
std::optional<ParsedEndpoint> parse_text_endpoint(std::string_view text, Family star_family = Family::v4);

}  // namespace tcpkit
