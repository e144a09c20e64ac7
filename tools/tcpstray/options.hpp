#pragma once
// tcpstray's parsed command line.
#include <chrono>
#include <string>
#include <vector>

#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/stray/stray_case.hpp"

namespace tcpstray {

struct Options {
  tcpkit::TargetSpec target;                            // host:port, parsed in main (it names a port)
  std::vector<tcpkit::StrayCase> cases;                 // selected, catalogue order
  uint16_t closed_port = 1;                             // --closed-port
  std::chrono::microseconds timeout{1'000'000};         // -W
  tcpkit::Family family = tcpkit::Family::any;          // -4 / -6
  std::string interface;                                // -I
  std::string request;                                  // --request (escapes decoded)
  bool verbose = false;                                 // -v
  tcpkit::Format format = tcpkit::Format::text;
};

// Runs the selected cases and returns the exit code.
int run(const Options& options);
// Prints the catalogue (--list) in the chosen format.
int list_catalogue(tcpkit::Format format);

}  // namespace tcpstray
