#include "tcpkit/scan/scan_ack_check.hpp"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "tcpkit/scan/scan_drops.hpp"
#include "tcpkit/scan/scan_plan.hpp"
#include "tcpkit/util/counts.hpp"
#include "tcpkit/wire/cookie.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/target_set.hpp"

namespace tcpkit {

namespace {

// The ACK round's source port: the one after the SYN rounds' (before them when those end at
// 65535), or the SYN scan's own with -g.
uint16_t ack_source_port(const ScanConfig& syn) {
  if (syn.fixed_source_port) return syn.source_port;
  const unsigned after = unsigned(syn.last_source_port()) + 1;
  return after <= 65535 ? uint16_t(after) : uint16_t(syn.source_port - 1);
}

// The (host, port) pairs of `ports` (sorted, unique), one round plan under `config`: the
// engine's summary, each result handed to `on_result`.
Result<ScanSummary> probe_ports(const std::vector<SilentPort>& ports, const ScanConfig& config, const AckCheckRoute& route,
                                const std::function<void(const ScanResult&)>& on_result) {
  TargetSet targets(TargetOptions{Family::any, true});
  std::vector<uint16_t> port_numbers;
  for (size_t i = 0; i < ports.size(); ++i) {
    // Sorted by address: each host once.
    if (i == 0 || ports[i].address != ports[i - 1].address)
      if (auto added = targets.add(ports[i].address.to_string()); !added) return tl::unexpected(added.error());
    port_numbers.push_back(ports[i].port);
  }
  if (auto done = targets.finalize(); !done) return tl::unexpected(done.error());
  std::sort(port_numbers.begin(), port_numbers.end());
  port_numbers.erase(std::unique(port_numbers.begin(), port_numbers.end()), port_numbers.end());
  auto plan = ScanPlan::make(targets, std::move(port_numbers), config.key.k0, Shard{});
  if (!plan) return tl::unexpected(plan.error());
  auto sources = choose_sources(plan->targets(), route.source, route.interface);
  if (!sources) return tl::unexpected(sources.error());
  auto path = choose_send_path(plan->targets(), *sources, route.source, route.send_mode, route.bypass_qdisc);
  if (!path) return tl::unexpected(path.error());
  auto engine = ScanEngine::open(*plan, *sources, config, *path);
  if (!engine) return tl::unexpected(engine.error());
  // Only the ports asked go out: the plan is every host by every port (before, a check of 64
  // hosts' one port each sent an ACK to every host's every asked port, 4,096).
  (*engine)->leave_out([&](const PlannedProbe& p) {
    return !std::binary_search(ports.begin(), ports.end(), SilentPort{p.address, p.port});
  });
  auto summary = (*engine)->run(on_result, [](const ScanProgress&) {});
  if (summary.receive_error) return tl::unexpected(*summary.receive_error);
  if (summary.send_failure) return tl::unexpected(*summary.send_failure);
  return summary;
}

}  // namespace

Result<AckCheckOutcome> ack_check_silent_ports(std::vector<SilentPort> ports, const ScanConfig& syn_config,
                                               std::chrono::microseconds wait, const AckCheckRoute& route) {
  AckCheckOutcome outcome;
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  outcome.asked = ports;
  if (ports.empty()) return outcome;

  ScanConfig config = syn_config;
  config.flags = tcp_flag::ack;
  config.key = random_sip_key();
  // An ACK or its RST lost on the way would tell "drops everything": a port that drew nothing
  // gets a second ACK (a lossy path at 10 % each way loses one in five, both one in 27).
  config.retries = 1;
  config.fixed_rounds = true;
  config.wait = wait;
  config.wait_forced = true;
  config.source_port = ack_source_port(syn_config);
  config.fixed_source_port = true;
  config.send_threads = 1;
  const auto summary = probe_ports(ports, config, route, [&](const ScanResult& r) {
    // An RST to an ACK: the port's stack is reached; an ICMP error: a box refuses it. The
    // first answer stands (a second that says otherwise is not the port's result).
    if (r.conflict) return;
    const SilentPort key{r.address, r.port};
    if (r.verdict.reason == Reason::reset) outcome.reset.emplace_back(key, r.ttl);
    if (r.verdict.reason == Reason::icmp_unreachable) outcome.icmp.push_back({key, r.verdict, r.ttl});
  });
  if (!summary) return tl::unexpected(summary.error());
  outcome.sent = summary->sent;
  outcome.interrupted = summary->interrupted;
  outcome.duration_s = summary->duration_s;
  std::sort(outcome.reset.begin(), outcome.reset.end());
  std::sort(outcome.icmp.begin(), outcome.icmp.end(),
            [](const AckCheckOutcome::IcmpAnswer& a, const AckCheckOutcome::IcmpAnswer& b) { return a.port < b.port; });
  return outcome;
}

bool wants_syn_recheck(const AckCheckOutcome& outcome, const ScanSummary& summary) {
  // With late answers the run is degraded anyway; the recheck is then for a rate to suggest,
  // when the rounds gave no limiter's figure (a share of a rate our machine could not reach is
  // none: 5,000 was suggested for a limiter of 10/s).
  return !outcome.interrupted && !outcome.reset.empty() && summary.rounds_tally.size() > 1 &&
         (late_answers(summary.rounds_tally) == 0 || !summary.suggested_from_passing);
}

std::vector<SilentPort> recheck_ports(const AckCheckOutcome& outcome, const ScanSummary& summary,
                                      const std::function<uint64_t(const IpAddress&)>& syn_answers) {
  const bool none_late = late_answers(summary.rounds_tally) == 0;
  // A few ports of one host: enough for a limiter's burst to show.
  std::vector<SilentPort> ports;
  for (const auto& [port, ttl] : outcome.reset) {
    if (!ports.empty()) {
      if (port.address != ports.front().address || ports.size() >= kRecheckPorts) break;
    } else if (none_late && syn_answers(port.address) >= kLimiterBurstCeiling) {
      continue;  // sorted by address: the next host's ports follow
    }
    ports.push_back(port);
  }
  return ports;
}

Result<SynRecheck> recheck_reset_ports(const std::vector<SilentPort>& ports, const ScanConfig& syn_config,
                                       std::chrono::microseconds wait, const AckCheckRoute& route, int cancel_fd) {
  SynRecheck out;
  if (ports.empty()) return out;
  // A limiter refills while nothing is sent to it: its burst is there again for these SYNs.
  pollfd p{cancel_fd, POLLIN, 0};
  if (::poll(&p, cancel_fd >= 0 ? 1 : 0, int(kRecheckPause.count())) > 0) return out;
  ScanConfig config = syn_config;
  config.key = random_sip_key();
  config.retries = 0;
  config.fixed_rounds = true;
  config.rate = std::min(syn_config.rate, kRecheckRate);
  config.wait = wait;
  config.wait_forced = true;
  // A port of its own after the ACK round's (-g keeps the scan's; a fresh key tells the rounds apart).
  const uint16_t ack_port = ack_source_port(syn_config);
  config.source_port = syn_config.fixed_source_port ? ack_port
                       : ack_port < 65535           ? uint16_t(ack_port + 1)
                                                    : uint16_t(ack_port - 1);
  config.fixed_source_port = true;
  config.send_threads = 1;
  const auto summary = probe_ports(ports, config, route, [&](const ScanResult& r) {
    if (r.conflict) return;  // a port's second answer, which said otherwise: answered once
    if (r.verdict.reason == Reason::syn_ack || r.verdict.reason == Reason::reset) ++out.answered;
  });
  if (!summary) return tl::unexpected(summary.error());
  out.asked = ports.size();
  out.duration_s = summary->duration_s + double(kRecheckPause.count()) / 1000;
  return out;
}

void SilentPortHold::add(const ScanResult& r) {
  ++total_;
  const bool answering = answered_(r.address);
  if (answering) ++of_answering_;
  if (total_ <= max_) {
    held_.push_back(r);
    return;
  }
  // Past max: the answering hosts' ports are asked, the first max of them (a sample), and one
  // port of each silent host.
  release_silent_hosts();
  if (answering ? of_answering_ <= max_ : take_silent_host(r.address))
    held_.push_back(r);
  else
    release_(r);
}

std::vector<SilentPort> SilentPortHold::to_ask() const {
  std::vector<SilentPort> ports;
  ports.reserve(held_.size());
  for (const auto& r : held_) ports.push_back({r.address, r.port});
  return ports;
}

SilentPortHold::LeftOut SilentPortHold::left_out() const {
  if (of_answering_ > max_) return LeftOut::sample;
  return total_ > max_ && held_.size() < total_ ? LeftOut::of_silent_hosts : LeftOut::none;
}

// Once: the held ports of hosts that answered nothing go, but the first of each; the answering
// hosts' stay.
void SilentPortHold::release_silent_hosts() {
  if (released_silent_hosts_) return;
  released_silent_hosts_ = true;
  std::vector<ScanResult> kept;
  for (const auto& r : held_) {
    if (answered_(r.address) || take_silent_host(r.address))
      kept.push_back(r);
    else
      release_(r);
  }
  held_ = std::move(kept);
}

// True the first time a silent host is seen, while fewer than max have a port asked.
bool SilentPortHold::take_silent_host(const IpAddress& address) {
  const auto at = std::lower_bound(silent_hosts_.begin(), silent_hosts_.end(), address);
  if (at != silent_hosts_.end() && *at == address) return false;
  if (silent_hosts_.size() >= max_) return false;
  silent_hosts_.insert(at, address);
  return true;
}

void mark_ack_answers(std::vector<ScanResult>& silent, const AckCheckOutcome& outcome) {
  for (auto& r : silent) {
    const SilentPort key{r.address, r.port};
    const auto reset = std::lower_bound(outcome.reset.begin(), outcome.reset.end(), key,
                                        [](const auto& entry, const SilentPort& k) { return entry.first < k; });
    const auto icmp = std::lower_bound(outcome.icmp.begin(), outcome.icmp.end(), key,
                                       [](const AckCheckOutcome::IcmpAnswer& entry, const SilentPort& k) { return entry.port < k; });
    if (reset != outcome.reset.end() && reset->first == key) {
      r.ack = AckAnswer::reset;
      r.ttl = reset->second;
    } else if (icmp != outcome.icmp.end() && icmp->port == key) {
      r.ack = AckAnswer::icmp;
      r.ttl = icmp->ttl;
      r.verdict.icmp_type = icmp->verdict.icmp_type;
      r.verdict.icmp_code = icmp->verdict.icmp_code;
      r.verdict.icmp_v6 = icmp->verdict.icmp_v6;
      r.verdict.icmp_from_target = icmp->verdict.icmp_from_target;
      r.verdict.icmp_sender = icmp->verdict.icmp_sender;
    } else if (!outcome.interrupted && std::binary_search(outcome.asked.begin(), outcome.asked.end(), key))
      r.ack = AckAnswer::silence;
  }
}

namespace {
// "3 silent ports reset an ACK", or of a sample: "3 of 64 silent ports asked (of 288) reset an ACK".
std::string resets_text(const AckCheckOutcome& outcome, uint64_t silent) {
  const size_t n = outcome.reset.size(), asked = outcome.asked.size();
  if (silent <= asked) return count_of(n, "silent port") + " reset an ACK";
  return std::to_string(n) + " of " + count_of(asked, "silent port") + " asked (of " + with_commas(silent) +
         ") reset an ACK";
}
}  // namespace

void judge_ack_resets(const AckCheckOutcome& outcome, uint64_t silent, ScanSummary& summary,
                      const std::optional<SynRecheck>& recheck) {
  if (outcome.reset.empty()) return;
  const size_t n = outcome.reset.size();
  const std::string ports = silent > outcome.asked.size() ? "every silent port" : n == 1 ? "that port" : "each of them";
  // With no retry round, nothing tells a limiter on the way from a rule or a full queue.
  if (summary.rounds_tally.size() == 1) {
    summary.degraded_reasons.push_back(resets_text(outcome, silent) +
                                       ", and with no retry round (--retries 0) nothing tells a SYN rate limit "
                                       "on the way from a rule for SYNs alone or a full accept queue: " + ports +
                                       " may be open or closed");
    summary.degraded = true;
    return;
  }
  // Ports that drop SYNs on a path that loses nothing are a rule or a full queue, the same in
  // every round: the report says so port by port. Answers that came only in retry rounds say
  // that SYNs are being dropped on the way, and then the silent ports may be its victims too.
  const uint64_t late = late_answers(summary.rounds_tally);
  const bool passed_after_pause = recheck && recheck->answered > 0;
  if (late == 0 && !passed_after_pause) return;
  const std::string again =
      passed_after_pause ? std::to_string(recheck->answered) + " of " + count_of(recheck->asked, "such port") +
                               " answered a SYN sent again after a pause of " +
                               std::to_string(kRecheckPause.count() / 1000) + " s"
                         : "";
  const bool random_loss = drop_cause(summary.rounds_tally) == DropCause::random_loss;
  if (late == 0)
    summary.degraded_reasons.push_back(resets_text(outcome, silent) + ", and " + again +
                                       ": SYNs are being dropped on the way by a rate limit that refills while "
                                       "nothing is sent (its burst answered round 1), so " + ports +
                                       " may be open or closed");
  else
    summary.degraded_reasons.push_back(resets_text(outcome, silent) + " while " + count_of(late, "answer") +
                                       " came only in retry rounds" + (passed_after_pause ? " (and " + again + ")" : "") +
                                       ": SYNs or their answers are being dropped on the way (" +
                                       (random_loss ? "lost at random"
                                                    : "a SYN rate limit, most often, or a limit on the resets the "
                                                      "host sends") +
                                       "), so " +
                                       ports + " may be open or closed");
  summary.degraded = true;
  if (passed_after_pause) {
    // Loss at random: SYNs sent again pass as they did, and no rate helps (none is suggested).
    if (random_loss) return;
    // What passed after the pause is the limiter's burst, rarely above its rate a second; it
    // replaces a share of our rate, and a lower figure from what passed in the rounds stays.
    constexpr double kShareOfBurst = 0.7;
    const double burst = std::max(1.0, std::floor(double(recheck->answered) * kShareOfBurst));
    summary.suggested_rate = summary.suggested_from_passing ? std::min(summary.suggested_rate, burst) : burst;
    summary.suggested_from_passing = true;
    return;
  }
  // Loss at random is not helped by a slower scan; a limiter is, and its rate is unknown.
  constexpr double kShareOfRate = 0.25;
  const double ours = summary.achieved_rate > 0 ? std::min(summary.achieved_rate, summary.requested_rate)
                                                : summary.requested_rate;
  if (summary.suggested_rate == 0 && ours > 1 && !random_loss)
    summary.suggested_rate = std::max(1.0, std::floor(ours * kShareOfRate));
}

}  // namespace tcpkit
