#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tcpkit/scan/scan_ack_check.hpp"

using namespace tcpkit;

namespace {
ScanResult silent_port(const char* address, uint16_t port) {
  ScanResult r;
  r.address = *IpAddress::parse(address);
  r.port = port;
  return r;  // filtered, no-response: what the engine gives a port that drew nothing
}
}  // namespace

TEST_CASE("the ACK check's answers are marked on the silent ports it asked") {
  std::vector<ScanResult> silent = {silent_port("192.0.2.7", 80), silent_port("192.0.2.7", 25),
                                    silent_port("2001:db8::7", 80), silent_port("192.0.2.9", 80)};
  AckCheckOutcome outcome;
  for (size_t i = 0; i < 3; ++i) outcome.asked.push_back({silent[i].address, silent[i].port});
  std::sort(outcome.asked.begin(), outcome.asked.end());
  outcome.reset = {{{*IpAddress::parse("192.0.2.7"), 80}, 61}};
  mark_ack_answers(silent, outcome);
  CHECK(silent[0].ack == AckAnswer::reset);
  CHECK(silent[0].ttl == 61);  // the RST's
  CHECK(silent[1].ttl == 0);
  // The same port on another host, and another port on the same host, drew nothing.
  CHECK(silent[1].ack == AckAnswer::silence);
  CHECK(silent[2].ack == AckAnswer::silence);
  CHECK(silent[3].ack == AckAnswer::unasked);  // not asked: nothing is known
}

TEST_CASE("an interrupted ACK check leaves the ports it did not hear from unasked") {
  std::vector<ScanResult> silent = {silent_port("192.0.2.7", 80), silent_port("192.0.2.7", 25)};
  AckCheckOutcome outcome;
  outcome.asked = {{*IpAddress::parse("192.0.2.7"), 25}, {*IpAddress::parse("192.0.2.7"), 80}};
  outcome.interrupted = true;
  outcome.reset = {{{*IpAddress::parse("192.0.2.7"), 25}, 64}};
  mark_ack_answers(silent, outcome);
  CHECK(silent[0].ack == AckAnswer::unasked);  // its wait was cut short: nothing is known
  CHECK(silent[1].ack == AckAnswer::reset);    // an RST is an answer whenever it came
}

TEST_CASE("the ACK check's answers have nmap-style words") {
  CHECK(std::string(to_string(AckAnswer::reset)) == "ack-reset");
  CHECK(std::string(to_string(AckAnswer::silence)) == "ack-silence");
  CHECK(std::string(to_string(AckAnswer::unasked)).empty());
}

namespace {
// Adds the ports in order; returns (held, released) as "address:port" lists.
struct Held {
  std::vector<std::string> held, released;
  SilentPortHold::LeftOut left_out;
};
Held hold(uint64_t max, const std::vector<std::pair<const char*, uint16_t>>& ports,
          const std::vector<std::string>& answering) {
  Held out;
  SilentPortHold h(
      max, [&](const IpAddress& a) { return std::find(answering.begin(), answering.end(), a.to_string()) != answering.end(); },
      [&](const ScanResult& r) { out.released.push_back(r.address.to_string() + ":" + std::to_string(r.port)); });
  for (const auto& [address, port] : ports) h.add(silent_port(address, port));
  for (const auto& p : h.to_ask()) out.held.push_back(p.address.to_string() + ":" + std::to_string(p.port));
  out.left_out = h.left_out();
  CHECK(h.total() == ports.size());
  return out;
}
}  // namespace

TEST_CASE("the ACK check asks every silent port when there are at most max of them") {
  const auto h = hold(3, {{"192.0.2.1", 80}, {"192.0.2.9", 80}, {"192.0.2.9", 81}}, {"192.0.2.1"});
  CHECK(h.held == std::vector<std::string>{"192.0.2.1:80", "192.0.2.9:80", "192.0.2.9:81"});
  CHECK(h.released.empty());
  CHECK(h.left_out == SilentPortHold::LeftOut::none);
}

TEST_CASE("past max, only the silent ports of hosts that answered are asked; the others go at once") {
  // The host that answered nothing comes first and last: its ports are released as soon as the
  // count passes max, and the answering host's are still held.
  const auto h = hold(2, {{"192.0.2.9", 1}, {"192.0.2.1", 80}, {"192.0.2.9", 2}, {"192.0.2.9", 3}}, {"192.0.2.1"});
  CHECK(h.held == std::vector<std::string>{"192.0.2.1:80"});
  CHECK(h.released == std::vector<std::string>{"192.0.2.9:1", "192.0.2.9:2", "192.0.2.9:3"});
  CHECK(h.left_out == SilentPortHold::LeftOut::of_silent_hosts);
}

TEST_CASE("past max even for the hosts that answered, no port is asked and none is held") {
  const auto h = hold(2, {{"192.0.2.1", 1}, {"192.0.2.1", 2}, {"192.0.2.9", 5}, {"192.0.2.1", 3}, {"192.0.2.1", 4}},
                      {"192.0.2.1"});
  CHECK(h.held.empty());
  CHECK(h.released.size() == 5);
  CHECK(h.left_out == SilentPortHold::LeftOut::all);
  // max 0 holds nothing at all.
  const auto none = hold(0, {{"192.0.2.1", 1}}, {});
  CHECK(none.held.empty());
  CHECK(none.released.size() == 1);
}

TEST_CASE("silent ports that reset an ACK degrade the run only when answers also came late") {
  AckCheckOutcome outcome;
  outcome.reset = {{{*IpAddress::parse("192.0.2.7"), 9050}, 64}, {{*IpAddress::parse("192.0.2.7"), 9051}, 64}};
  ScanSummary clean;
  clean.requested_rate = clean.achieved_rate = 10000;
  clean.rounds_tally = {{60, 58, 10000, 0.006}, {2, 0, 10000, 0.001}};
  judge_ack_resets(outcome, clean);  // a SYN-only rule or a full queue on a path that loses nothing
  CHECK_FALSE(clean.degraded);
  CHECK(clean.degraded_reasons.empty());

  ScanSummary limited = clean;  // the limiter: a few answers a round, after round 0
  limited.rounds_tally = {{60, 10, 10000, 0.006}, {50, 1, 10000, 0.005}, {49, 0, 10000, 0.005}, {49, 1, 10000, 0.005}};
  judge_ack_resets(outcome, limited);
  CHECK(limited.degraded);
  REQUIRE(limited.degraded_reasons.size() == 1);
  CHECK(limited.degraded_reasons[0].find("2 silent ports reset an ACK while 2 answers came only in retry rounds") == 0);
  CHECK(limited.suggested_rate == 2500);

  ScanSummary suggested = limited;  // a rate the drop judge suggested stays
  suggested.degraded_reasons.clear();
  suggested.suggested_rate = 700;
  judge_ack_resets(outcome, suggested);
  CHECK(suggested.suggested_rate == 700);

  ScanSummary none = limited;  // no port reset: nothing to say
  none.degraded = false;
  none.degraded_reasons.clear();
  judge_ack_resets(AckCheckOutcome{}, none);
  CHECK_FALSE(none.degraded);
}
