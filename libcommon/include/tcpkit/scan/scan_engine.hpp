#pragma once
// The stateless scanner: a sender thread walks the plan's random order through a token bucket
// and sendmmsg batches; a receiver thread reads the packet ring, checks each reply's cookie,
// classifies it, resets every SYN/ACK and marks the probe answered in a bitmap (one bit per
// probe). Unanswered probes are sent again in later rounds; what never answers gets the probe
// style's no-reply state. Results and progress reach the caller on its own thread.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/wire/cookie.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/util/reject_counts.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/scan/scan_drops.hpp"
#include "tcpkit/scan/scan_plan.hpp"
#include "tcpkit/scan/scan_probe.hpp"

namespace tcpkit {

// The source address for each of the plan's target ranges, and the interface when they share one.
struct ScanSources {
  std::vector<IpAddress> by_range;  // parallel to TargetSet::ranges()
  std::string interface;            // "" when routes leave through several interfaces
  int interface_index = 0;
};

// Routes each target range (by its first address; use -S/-I to force) through the kernel's table.
// A forced source must be of the targets' family.
Result<ScanSources> choose_sources(const TargetSet& targets, const std::optional<IpAddress>& source,
                                   const std::string& interface);

struct ScanConfig {
  uint8_t flags = 0x02;  // SYN
  double rate = 10'000;  // probes per second: a ceiling over any 100 ms (see pacing_for)
  // When a round shows drops (retry_found_drops, answers_collapsed), the next round runs at
  // slower_rate(), never below min_rate; min_rate >= rate keeps every round at rate.
  double min_rate = 1'000;
  int retries = 2;       // extra rounds for unanswered probes
  std::chrono::microseconds wait{1'000'000};  // after the last probe
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

  uint16_t port_of_round(int round) const {
    return fixed_source_port ? source_port : uint16_t(source_port + round);
  }
  // The last port any round may use: replies are accepted on source_port..last_source_port().
  uint16_t last_source_port() const { return port_of_round(retries); }
};

// Refuses a config whose per-round source ports would pass 65535.
Result<void> check_source_ports(const ScanConfig& config);

// The probe bytes for one (source, target) pair in one round: what the engine sends and
// --dry-run shows.
struct ProbeBytes {
  uint16_t sport = 0;
  ProbeNumbers numbers;
  std::vector<uint8_t> packet;
};
Result<ProbeBytes> build_probe(const ScanConfig& config, const IpAddress& source, const IpAddress& target,
                               uint16_t port, int round = 0);

struct ScanResult {
  IpAddress address;
  uint16_t port = 0;
  Verdict verdict;
  uint8_t ttl = 0;        // of the reply (0 when none)
  int64_t time_ns = 0;    // kernel receive time of the reply (0 when none)
  int64_t rtt_ns = 0;     // from our send to that receive time (0 when unknown)
};

struct ScanProgress {
  uint64_t planned = 0;    // probes in the first round
  uint64_t sent = 0;       // probes sent so far, all rounds
  uint64_t replies = 0;    // valid replies
  uint64_t answered = 0;   // ports with a state from a reply
  uint64_t positive = 0;   // ports in the scan's positive state (open, unfiltered, ...)
  int round = 0;           // 0-based
  bool waiting = false;    // all sent, waiting for late replies
  double elapsed_s = 0;
};

struct ScanSummary {
  std::array<uint64_t, kPortStateCount> states{};  // indexed by PortState
  uint64_t planned = 0, sent = 0, send_errors = 0;
  uint64_t received = 0;     // packets that reached the receiver through the filter
  uint64_t replies = 0;      // with a valid cookie
  uint64_t bad_cookie = 0;   // for one of our probes' 4-tuples, but a wrong cookie: ignored
  uint64_t unsolicited = 0;  // to our port, from outside the scan: ignored
  uint64_t bad_checksum = 0; // TCP/ICMP checksum wrong: rejected before any other check
  // The three above in the words every tool uses: a bad cookie is a wrong ack (TCP) or a
  // wrong quote (ICMP); unsolicited is a wrong address (TCP from an address or port outside
  // the scan) or a wrong quote (ICMP quoting one).
  RejectCounts rejected;
  uint64_t duplicates = 0, resets_sent = 0, kernel_drops = 0;
  int rounds = 0;
  double duration_s = 0, send_s = 0;
  double requested_rate = 0, achieved_rate = 0;
  int64_t max_rtt_us = 0;
  std::vector<RoundTally> rounds_tally;  // per round sent: probes, first answers, rate
  QuarterAnswers round0_quarters{};      // answers to round 0's probes by quarter of its order
  double suggested_rate = 0;             // when drops were seen: a --rate to try (else 0)
  bool interrupted = false;
  // The receiver's packet ring failed for good: the scan stopped, unanswered ports have no state.
  std::optional<Error> receive_error;
  bool degraded = false;
  std::vector<std::string> degraded_reasons;
};

class ScanEngine {
 public:
  // Opens the raw senders and the packet ring (CAP_NET_RAW). plan and sources must outlive it.
  static Result<std::unique_ptr<ScanEngine>> open(const ScanPlan& plan, const ScanSources& sources,
                                                  const ScanConfig& config);
  ~ScanEngine();

  // Runs the whole scan. on_result sees each port once, as its state becomes known (the
  // unanswered ones at the end); on_progress about every progress_interval. Both run here,
  // on the calling thread.
  ScanSummary run(const std::function<void(const ScanResult&)>& on_result,
                  const std::function<void(const ScanProgress&)>& on_progress,
                  std::chrono::milliseconds progress_interval = std::chrono::milliseconds(200));

  struct Impl;

 private:
  explicit ScanEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The state a scan of this style counts as found (open for SYN, unfiltered for ACK,
// open|filtered for FIN-like probes).
PortState positive_state(ProbeStyle style);

}  // namespace tcpkit
