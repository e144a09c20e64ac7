#pragma once
// tcppath's parsed command line.
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "tcpkit/util/output.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/tcp_options.hpp"

namespace tcppath {

struct Options {
  tcpkit::TargetSpec target;                      // parsed in main
  std::optional<uint16_t> port;                   // -p (a target that names none)
  int max_hops = 30;                              // -m
  int queries = 3;                                // -q
  std::chrono::microseconds wait{2'000'000};      // -W
  std::optional<tcpkit::IpAddress> source;        // -S
  std::string interface;                          // -I
  tcpkit::Family family = tcpkit::Family::any;    // -4 / -6
  tcpkit::Format format = tcpkit::Format::text;
  bool numeric = false;                           // -n: no reverse lookups of the routers
  int flows = 1;                                  // --flows: traces over this many flows at once
  int router_burst = 6;                           // --router-burst: answers a router gives at once
  bool ecn = false;                               // --ecn: an ECN-setup SYN (ECE, CWR)
  tcpkit::TcpOptions syn_options = tcpkit::linux_layout();  // --options
  bool tsval_given = false;  // --options named ts=TSVAL; else the first probe's TSval is random
};

// Routers' names from reverse lookups (empty with -n).
using Names = std::map<tcpkit::IpAddress, std::string>;

// Traces the path and returns the exit code.
int run(const Options& options);

}  // namespace tcppath
