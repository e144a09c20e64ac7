#pragma once
// tcpstate's options after parsing and validation: what main hands to run().
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/sockets/socket_filter.hpp"
#include "tcpkit/sockets/socket_stats.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpstate {

enum class Source { netlink, proc, ss_text, netstat_text, text_autodetect };
enum class Report { list, time_wait, syn_flood, close_wait, follow };
enum class Output { table, json, csv, prometheus };
// syn-flood: how SYN_RECV sockets are found (syn_flood_report.cpp's count_plan).
enum class SynRecvBy { automatic, queues, walk };

struct Options {
  Source source = Source::netlink;
  std::string input;        // FILE or "-" for the text sources
  std::optional<tcpkit::TcpState> from_state;  // --from-state: a capture of `ss state X` (no State column)
  std::string netns;        // --netns NAME
  std::string save_netlink; // --save-netlink FILE
  bool processes = false;   // -p
  bool tcp_info = false;    // -i

  tcpkit::SocketFilter filter;

  Report report = Report::list;
  bool summary = false;
  std::optional<tcpkit::GroupBy> by;
  size_t top = 10;
  bool check = false;
  std::vector<tcpkit::Threshold> thresholds;
  std::optional<double> watch_seconds;
  long long watch_count = 0;  // 0: until Ctrl-C
  std::chrono::microseconds interval{1'000'000};  // syn-flood counter deltas
  uint64_t flood_threshold = 1000;
  SynRecvBy syn_recv_by = SynRecvBy::automatic;
  std::optional<tcpkit::TcpState> explain;
  long long follow_count = 0;                              // follow -c N: stop after N changes shown
  std::optional<std::chrono::microseconds> follow_duration;  // follow --duration TIME
  bool follow_life = false;                                  // follow --life: a line per connection
  std::optional<std::chrono::microseconds> follow_interval;  // follow --summary --interval TIME
  std::string diagram;                                       // follow --diagram FILE.svg

  Output output = Output::table;
};

// Runs tcpstate; returns the exit code. Never throws on bad input or system errors.
int run(const Options& options);

}  // namespace tcpstate
