#pragma once
// Paris-style TCP path tracing: Linux-like SYNs over one fixed 5-tuple (and, IPv6, one flow
// label) with TTL 1..max, all at once (q per hop, within a router's ICMP burst), then the
// routers' time exceeded and the destination's answer, read from one capture with kernel
// timestamps. Each probe's id is its IPv4 IP ID, which middleboxes leave alone far more often
// than the sequence number or ports, so a hop whose quote shows a rewritten seq or port is still
// paired with its probe. IPv6 has no IP ID: there the id is the sequence number, and where a
// middlebox rewrote that, the timestamp option's TSval.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/probe/path_summary.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/util/send_turns.hpp"
#include "tcpkit/wire/tcp_options.hpp"

namespace tcpkit {

struct PathTraceConfig {
  IpAddress destination;
  uint16_t port = 80;
  Route route;
  bool bind_interface = false;  // -I or a link-local target's zone: send through route.interface only
  int max_hops = 30;
  int queries = 3;                                   // probes per hop
  std::chrono::milliseconds wait{2000};              // for answers after the last probe is sent
  TcpOptions syn_options = linux_layout();
  uint16_t window = 64240;
  bool ecn = false;  // an ECN-setup SYN (ECE and CWR set, RFC 3168): who clears them shows in the quotes
  // Traces run at once (--flows) share one: each sends its probes in a turn of its own.
  SendTurns* turns = nullptr;
  // The first probe's IPv4 IP ID (random when unset). Traces run at once get windows that do
  // not overlap (flow_configs()), so that no trace takes another's quote for its own.
  std::optional<uint16_t> first_ip_id;
};

// How many probes a trace may send: every probe of every hop, and one more (the SYN asked again
// after a silence). Each carries first + k in its IP ID, seq and TSval.
size_t path_probe_count(const PathTraceConfig& config);

struct HopResult {
  HopAnswer answer;                 // router, diff of the first quote, unreachable
  int sent = 0, answered = 0;
  // Some probes answered, then none: the router's ICMP rate limit (a burst, then about one a
  // second), never a drop: the probes it did not answer went on like the others.
  bool rate_limited = false;
  bool passed = false;  // no answer, but a later hop (or the destination) did: the SYN went on
  std::vector<int64_t> rtt_ns;      // one per answer
  TimestampSource timestamps = TimestampSource::kernel;
  // Other routers that answered probes of this hop: one flow should take one path, so these
  // mean per-packet load balancing (or a route that changed during the trace).
  std::vector<IpAddress> other_routers;
};

struct PathTrace {
  std::vector<uint8_t> sent_syn;            // the first probe as sent (TTL 1); each quote is diffed against its own probe
  uint16_t source_port = 0;
  std::vector<HopResult> hops;              // 1..the last hop worth showing
  std::optional<DestinationAnswer> destination;
  int destination_hop = 0;                  // the first TTL that reached it (0: not reached)
  std::optional<int64_t> destination_rtt_ns;
  PathSummary summary;
  bool complete = false;                    // every answer that could change the trace came before the wait was over
  bool grace_ended = false;                 // the destination answered (or a router rejected the SYN) and the
                                            // answers still missing were waited for only a grace time
  bool asked_again = false;                 // silence after the last hop that answered: one more SYN
                                            // went 1 s later, past the routers' ICMP rate limits
};

// IPv4 or IPv6 by the destination's family. Needs CAP_NET_RAW. cancel_fd readable: stop waiting
// and summarise what came.
Result<PathTrace> trace_path(const PathTraceConfig& config, int cancel_fd = -1);

}  // namespace tcpkit
