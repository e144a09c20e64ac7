#pragma once
// What a scan is set up with before the first probe: its configuration (the flags choose the
// probe kind) and the source address of each target range.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/io/route.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/cookie.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/target_set.hpp"

namespace tcpkit {

// The source address for each of the plan's target ranges, and the interface when they share one.
struct ScanSources {
  std::vector<IpAddress> by_range;  // parallel to TargetSet::ranges()
  std::string interface;            // "" when routes leave through several interfaces
  int interface_index = 0;
  // Every target is an address of this host (local routes, through lo): the senders are then
  // not bound to lo, where a bound packet to another interface's address is dropped on arrival.
  bool local = false;
  // The route to each range's first address (choose_sources; empty for a dry run's forced
  // source, which asks no route): send_path reads the next hops from them.
  std::vector<Route> first_routes;
};

// Routes each target range (by its first address; use -S/-I to force) through the kernel's table.
// A forced source must be of the targets' family.
Result<ScanSources> choose_sources(const TargetSet& targets, const std::optional<IpAddress>& source,
                                   const std::string& interface);
// The sources a dry run shows: a forced source as given (its family checked the same way, no
// route asked), or those the routes would choose (a route lookup sends nothing).
Result<ScanSources> dry_run_sources(const TargetSet& targets, const std::optional<IpAddress>& source,
                                    const std::string& interface);

struct ScanConfig {
  uint8_t flags = 0x02;  // SYN
  double rate = 10'000;  // probes per second: a ceiling over any 100 ms (see pacing_for)
  // When a round shows drops (retry_found_answers, answers_collapsed), the next round runs at
  // slower_rate(), never below min_rate; min_rate >= rate keeps every round at rate.
  double min_rate = 1'000;
  // Retry rounds for unanswered probes (scan_timing.hpp): by default another round goes out
  // only while the last one found answers or a miss is still likely, at most `retries` of them;
  // fixed_rounds (--retries) sends all `retries` rounds while probes are unanswered.
  int retries = 10;
  bool fixed_rounds = false;
  // The wait after each round comes from the RTTs measured (scan_timing.hpp); wait_forced
  // (--wait) waits exactly `wait` after the last round, and at most `wait` between rounds.
  std::chrono::microseconds wait{1'000'000};
  bool wait_forced = false;
  // Round r sends from source_port + r, so a retry is a new 4-tuple: a Linux peer answers a
  // repeated SYN to its SYN_RECV entry at most once per tcp_invalid_ratelimit (500 ms), and a
  // new one at once. fixed_source_port (-g) sends every round from source_port, like nmap.
  uint16_t source_port = 61'000;
  bool fixed_source_port = false;
  uint8_t ttl = 64;
  uint16_t window = 1024;
  SipKey key{};          // per-scan secret for the cookies
  int cancel_fd = -1;    // readable = stop now (Ctrl-C)
  size_t batch = 64;     // at most this many probes per sendmmsg (fewer at low rates)
  // Threads that send each round together, each its share of the probes and of the rate
  // (default_send_threads); at most kMaxSendThreads.
  size_t send_threads = 1;

  uint16_t port_of_round(int round) const {
    return fixed_source_port ? source_port : uint16_t(source_port + round);
  }
  // The last port any round may use: replies are accepted on source_port..last_source_port().
  uint16_t last_source_port() const { return port_of_round(retries); }
};

constexpr size_t kMaxSendThreads = 16;

// The send threads when none are asked for: one below kParallelSendRate probes/s (a slow scan
// gains nothing, and its pacing stays one bucket's), else one per CPU this process may run on,
// at most 2 (a scanner shares its machine with the receiver thread and the kernel's softirqs).
constexpr double kParallelSendRate = 100'000;
size_t default_send_threads(double rate);

// Refuses a config whose per-round source ports would pass 65535.
Result<void> check_source_ports(const ScanConfig& config);


}  // namespace tcpkit
