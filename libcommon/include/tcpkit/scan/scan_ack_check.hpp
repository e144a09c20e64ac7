#pragma once
// Why a SYN scan's silent ports were silent, asked of all of them at once: one ACK scan of the
// ports that drew nothing (no SYN/ACK, no RST, no ICMP). Any TCP stack resets a stray ACK, on a
// listening port and on a closed one alike (RFC 9293 3.10.7.1, 3.10.7.2), so an RST back shows
// that segments reach the port and only the SYNs are dropped there: a listener whose accept
// queue is full (a server that stopped accepting), a SYN rate limit, or a rule for SYNs alone.
// Silence leaves a firewall that drops everything, a host that is gone, or loss. The scan-wide
// twin of stray/ack_check.hpp (tcpprobe's one port), run through the scan engine.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tcpkit/scan/scan_engine.hpp"
#include "tcpkit/scan/scan_setup.hpp"
#include "tcpkit/scan/send_path.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct SilentPort {
  IpAddress address;
  uint16_t port = 0;
  auto operator<=>(const SilentPort&) const = default;
};

// How the SYN scan reached its targets, so that the ACKs leave the same way.
struct AckCheckRoute {
  std::optional<IpAddress> source;  // -S
  std::string interface;            // -I
  SendMode send_mode = SendMode::automatic;
  bool bypass_qdisc = false;
};

struct AckCheckOutcome {
  std::vector<SilentPort> asked;  // the ports asked, sorted, once each
  // Those whose ACK drew an RST, sorted, with the RST's TTL: one unlike the TTL of the host's
  // other answers may come from a box on the way that resets for it.
  std::vector<std::pair<SilentPort, uint8_t>> reset;
  // Those whose ACK drew an ICMP error instead, sorted, with it (the engine's verdict: type,
  // code, family) and its TTL: a box refuses the port's segments and drops its SYNs unanswered.
  struct IcmpAnswer {
    SilentPort port;
    Verdict verdict;
    uint8_t ttl = 0;
  };
  std::vector<IcmpAnswer> icmp;
  uint64_t sent = 0;              // ACKs sent: every host asked x every port asked, and the retries
  bool interrupted = false;       // cancel_fd fired: the ports not reset are unknown
  double duration_s = 0;          // the ACK round and its wait
};

// One round of ACKs to every host of `ports` x every port of them (at most ports.size()^2), at
// syn_config's rate, from the port after the SYN scan's last (syn_config's one with -g) under a
// fresh cookie key, so no late answer to a SYN is taken for one to an ACK; then `wait` for
// the RSTs, and a second round (and wait) for the ACKs that drew nothing: one lost ACK or RST
// would have reported a port whose SYNs alone are dropped as one behind a drop-all firewall.
// Needs CAP_NET_RAW; fails only when the engine cannot be set up.
Result<AckCheckOutcome> ack_check_silent_ports(std::vector<SilentPort> ports, const ScanConfig& syn_config,
                                               std::chrono::microseconds wait, const AckCheckRoute& route);

// Ports that reset an ACK yet drew nothing from the SYNs of every round: a SYN-only rule or a
// full accept queue drops each SYN, but so does a rate limiter that let round 1's burst through
// and no retry round's probe (seen: 'limit rate over 10/second' on some of 31 hosts, 'not
// degraded' with whole hosts down). A pause lets a limiter refill; then SYNs again, slowly,
// to up to kRecheckPorts of one host's reset ports: any answer shows the limiter.
inline constexpr size_t kRecheckPorts = 8;
inline constexpr std::chrono::milliseconds kRecheckPause{1000};
inline constexpr double kRecheckRate = 20;  // SYNs per second
struct SynRecheck {
  size_t asked = 0, answered = 0;  // ports asked again, and those that answered (SYN/ACK or RST)
  double duration_s = 0;           // the pause, the SYNs and their wait
};
// Whether to: resets, retry rounds, and no answer that came late (which shows a limiter already),
// or answers late but no suggested rate from what a limiter let through (suggested_from_passing).
bool wants_syn_recheck(const AckCheckOutcome& outcome, const ScanSummary& summary);
// With no answer late, a host that answered this many SYNs in the rounds is behind no SYN
// limiter: one would have passed them all at once, as its burst (5 by default in nftables and
// iptables), and then not one retry. Its resets are a rule or a full queue (found: the pause
// made every scan of a host with a SYN-only rule 1.4 s longer, 65,535 ports in 1.56 s, not 0.15).
inline constexpr uint64_t kLimiterBurstCeiling = 256;
// The reset ports to ask again: up to kRecheckPorts of the first host that may be behind a
// limiter (syn_answers: its SYN/ACKs and RSTs in the rounds), none when no host may be.
std::vector<SilentPort> recheck_ports(const AckCheckOutcome& outcome, const ScanSummary& summary,
                                      const std::function<uint64_t(const IpAddress&)>& syn_answers);
// Nothing asked when `ports` is empty, or cancel_fd fires during the pause. `wait` after the
// SYNs: the ACK check's (a limiter's answer takes a round trip, as any).
Result<SynRecheck> recheck_reset_ports(const std::vector<SilentPort>& ports, const ScanConfig& syn_config,
                                       std::chrono::microseconds wait, const AckCheckRoute& route, int cancel_fd);

// Which silent ports the check asks: all of them when they are at most `max`, else those of the
// hosts that answered something (a sweep's hosts that are down would crowd out the one port that
// matters on a host that is up), the first `max` of those, plus one port of each of at most `max`
// hosts that answered nothing (their first): a host silent to SYNs behind a SYN limiter or a
// SYN-only rule resets it, and is up, not down. The engine gives the silent ports last, one by
// one, in the plan's random order, so the first `max` are a random sample: enough to see SYNs
// dropped while ACKs pass (a SYN rate limit in front of a full-range scan leaves thousands of
// silent ports). Each port is held while it may still be asked, and released (to the report) as
// soon as it cannot be, so no more than 2 x `max` are ever held.
class SilentPortHold {
 public:
  using Answered = std::function<bool(const IpAddress&)>;  // the host answered something
  using Release = std::function<void(const ScanResult&)>;
  SilentPortHold(uint64_t max, Answered answered, Release release)
      : max_(max), answered_(std::move(answered)), release_(std::move(release)) {}

  void add(const ScanResult& r);
  // After the last add(): the ports to ask (all those held).
  std::vector<SilentPort> to_ask() const;
  std::vector<ScanResult>& held() { return held_; }

  // none: every silent port is asked; of_silent_hosts: those of the hosts that answered are (and
  // one of each silent host); sample: only `max` of those are.
  enum class LeftOut { none, of_silent_hosts, sample };
  LeftOut left_out() const;
  uint64_t total() const { return total_; }                // silent ports added
  uint64_t of_answering() const { return of_answering_; }  // those of hosts that answered
  uint64_t max() const { return max_; }
  // Past max: how many hosts that answered nothing have their one port asked.
  uint64_t silent_hosts_asked() const { return silent_hosts_.size(); }

 private:
  void release_silent_hosts();
  bool take_silent_host(const IpAddress& address);

  uint64_t max_;
  Answered answered_;
  Release release_;
  uint64_t total_ = 0, of_answering_ = 0;
  bool released_silent_hosts_ = false;
  std::vector<ScanResult> held_;
  std::vector<IpAddress> silent_hosts_;  // sorted; at most max_
};

// The ports of `silent` that the check asked get its answer: reset (with the RST's TTL in
// ScanResult::ttl), an ICMP error (its TTL, and its type and code in the verdict's icmp fields;
// the port stays filtered, no-response to its SYNs), or silence (left unasked when the check was
// interrupted before its wait was over). The others stay unasked.
void mark_ack_answers(std::vector<ScanResult>& silent, const AckCheckOutcome& outcome);

// Silent ports that reset an ACK are ports whose SYNs were dropped while other segments got
// through: a SYN rate limit, a full accept queue or a SYN-only rule. When answers also came
// only in retry rounds (SYNs are being dropped on the way), each may be open or closed: the
// run is degraded, with that reason and, unless the loss looks random or another rate was
// suggested, a lower --rate to try (a limiter lets a slower scan through). With no retry round
// at all (--retries 0) nothing tells a limiter from a rule: degraded too, without a rate.
// `silent` is how many ports drew nothing, asked or not (more than outcome.asked: a sample).
// With `recheck` (run when no answer came late): its answers make the run degraded the same way,
// the limiter shown by SYNs that passed after a pause.
void judge_ack_resets(const AckCheckOutcome& outcome, uint64_t silent, ScanSummary& summary,
                      const std::optional<SynRecheck>& recheck = std::nullopt);

}  // namespace tcpkit
