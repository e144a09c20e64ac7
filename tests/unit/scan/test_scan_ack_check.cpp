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
  outcome.reset = {{*IpAddress::parse("192.0.2.7"), 80}};
  mark_ack_answers(silent, outcome);
  CHECK(silent[0].ack == AckAnswer::reset);
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
  outcome.reset = {{*IpAddress::parse("192.0.2.7"), 25}};
  mark_ack_answers(silent, outcome);
  CHECK(silent[0].ack == AckAnswer::unasked);  // its wait was cut short: nothing is known
  CHECK(silent[1].ack == AckAnswer::reset);    // an RST is an answer whenever it came
}

TEST_CASE("the ACK check's answers have nmap-style words") {
  CHECK(std::string(to_string(AckAnswer::reset)) == "ack-reset");
  CHECK(std::string(to_string(AckAnswer::silence)) == "ack-silence");
  CHECK(std::string(to_string(AckAnswer::unasked)).empty());
}
