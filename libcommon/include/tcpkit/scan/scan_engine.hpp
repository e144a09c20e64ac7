#pragma once
// The stateless scanner: a sender thread walks the plan's random order through a token bucket
// and sendmmsg batches (the bytes from ProbeWriter); a receiver thread reads the packet ring and
// hands each reply to the probe kind (probe_kind.hpp: filter, cookie check, classify, on_reply,
// where the SYN kind resets its SYN/ACKs), then marks the probe answered in a bitmap (one bit per
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
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/scan/scan_timing.hpp"
#include "tcpkit/scan/send_path.hpp"

namespace tcpkit {

struct ScanResult {
  IpAddress address;
  uint16_t port = 0;
  Verdict verdict;
  uint8_t ttl = 0;        // of the reply (0 when none; a silent port's ACK check RST's, see ack)
  int64_t time_ns = 0;    // kernel receive time of the reply (0 when none)
  int64_t rtt_ns = 0;     // from our send to that receive time (0 when unknown)
  // Set after the scan for a port that drew nothing, when ack_check_silent_ports
  // (scan_ack_check.hpp) asked it; the engine leaves it unasked.
  AckAnswer ack = AckAnswer::unasked;
  // A second answer to a port already answered that says otherwise (open after a reset, or the
  // other way): not the port's result, which the first answer gave, but reported beside it.
  bool conflict = false;
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
  uint64_t conflicting = 0;  // of the duplicates: second answers that said otherwise (ScanResult::conflict)
  int rounds = 0;
  double duration_s = 0, send_s = 0;
  double requested_rate = 0, achieved_rate = 0;
  // Round 0's send phase was long enough (50 ms) to leave the token bucket's first burst
  // behind: only then does achieved_rate say anything (a 30-probe scan at 10,000/s goes out at
  // once, at a "rate" of 80,000/s, within its ceiling over any 100 ms).
  bool rate_measured = false;
  int64_t max_rtt_us = 0;
  int64_t rtt_p99_us = 0;                // of the first answers (0 when none)
  int64_t reader_lag_p99_us = 0;         // kernel receive stamp to the receiver's reading, p99
  std::vector<int64_t> waits_us;         // the wait after each round sent, in order
  WaitSource wait_source = WaitSource::start;  // how the waits were chosen (the last one's)
  // Per network (IPv4 /24, IPv6 /64; scan_timing.hpp NetworkRtts): how many had RTTs of their
  // own, and the one whose RTTs set the last measured wait (the slowest of that round's), with
  // its p99; empty when the pooled estimate set it.
  size_t networks_measured = 0;
  std::string wait_network;
  int64_t wait_network_p99_us = 0;
  std::string send_path = "ip";          // send_path_name(): how the probes left
  size_t send_threads = 1;               // threads that sent each round together
  double paused_for_receiver_ms = 0;     // send threads' pauses while the receiver was half a ring behind
  std::string send_path_why;             // why the IP path, when frames were possible to ask for
  std::vector<RoundTally> rounds_tally;  // per round sent: probes, first answers, rate
  QuarterAnswers round0_quarters{};      // answers to round 0's probes by quarter of its order
  double suggested_rate = 0;             // when drops were seen: a --rate to try (else 0)
  // The suggestion is what a limiter was seen to let through (the rounds' or the SYN recheck's
  // answers), not a share of the rate asked or achieved: a figure to try, not a guess.
  bool suggested_from_passing = false;
  bool interrupted = false;
  // The receiver's packet ring failed for good: the scan stopped, unanswered ports have no state.
  std::optional<Error> receive_error;
  // The kernel refused every probe (a firewall's EPERM, no route): nothing was asked, so no
  // port has a state; the first refusal says why.
  std::optional<Error> send_failure;
  bool degraded = false;
  std::vector<std::string> degraded_reasons;
};

class ScanEngine {
 public:
  // Opens the senders (raw sockets, and packet sockets for the families path sends as
  // frames) and the packet ring (CAP_NET_RAW). plan and sources must outlive it.
  static Result<std::unique_ptr<ScanEngine>> open(const ScanPlan& plan, const ScanSources& sources,
                                                  const ScanConfig& config, const SendPath& path = {});
  ~ScanEngine();

  // Runs the whole scan. on_result sees each port once, as its state becomes known (the
  // unanswered ones at the end); on_progress about every progress_interval. Both run here,
  // on the calling thread.
  ScanSummary run(const std::function<void(const ScanResult&)>& on_result,
                  const std::function<void(const ScanProgress&)>& on_progress,
                  std::chrono::milliseconds progress_interval = std::chrono::milliseconds(200));

  // Before run(): the probes `unwanted` names are neither sent nor reported. A plan is every
  // host by every port; a check that asks some pairs of it (the ACK check) skips the others.
  void leave_out(const std::function<bool(const PlannedProbe&)>& unwanted);

  struct Impl;

 private:
  explicit ScanEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcpkit
