#pragma once
// tcpprobe's parsed command line.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/probe/connection_trace.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpprobe {

enum class Mode { automatic, syn, connect };

struct Options {
  std::vector<tcpkit::TargetSpec> targets;              // parsed once, in main
  Mode mode = Mode::automatic;
  std::optional<long long> count;                        // -c; none: until Ctrl-C or -w
  std::chrono::microseconds interval{1'000'000};         // -i
  std::chrono::microseconds timeout{1'000'000};          // -W
  std::optional<std::chrono::microseconds> deadline;     // -w
  std::optional<uint16_t> port;                          // -p
  std::optional<uint16_t> source_port;                   // -s
  std::optional<tcpkit::IpAddress> source;               // -S
  std::string interface;                                 // -I
  tcpkit::Family family = tcpkit::Family::any;           // -4 / -6
  std::optional<uint8_t> ttl;                            // --ttl
  bool wall_clock = false;                               // -D
  bool quiet = false;                                    // -q
  bool ack_check = true;                                 // --no-ack-check turns it off
  tcpkit::Format format = tcpkit::Format::text;
  // --trace: one connection, packet by packet.
  bool trace = false;
  tcpkit::CloseMode close = tcpkit::CloseMode::local;   // --close
  std::string send_data;                                // --send
  bool absolute = false;                                // --absolute
  std::chrono::microseconds close_wait{5'000'000};      // --close-wait
};

// Runs --trace and returns the exit code.
int run_trace(const Options& options);

// Runs every target and returns the exit code.
int run(const Options& options);

}  // namespace tcpprobe
