#pragma once
// A target as tcpprobe uses it: parsed (in main), resolved (first address) and routed.
#include <string>

#include "tcpkit/io/route.hpp"
#include "tcpprobe/options.hpp"
#include "tcpprobe/probe_report.hpp"

namespace tcpprobe {

struct Target {
  TargetInfo info;
  tcpkit::Route route;
  // The interface the user chose, by -I or by a link-local target's zone ("[fe80::1%eth0]");
  // empty: the route decides. A chosen interface binds the probes' sockets to it.
  std::string interface;
};

// Errors here stop the run before any packet is sent. Without need_route (connect mode) a
// missing route is left for connect() to report.
tcpkit::Result<Target> prepare_target(const Options& options, const tcpkit::TargetSpec& spec, bool need_route);

// What one ACK to the target's port draws (stray/ack_check.hpp); nullopt when it could not be
// asked or Ctrl-C cut it short. Needs CAP_NET_RAW.
std::optional<tcpkit::AckCheckAnswer> ack_check_target(const Options& options, const Target& target);

}  // namespace tcpprobe
