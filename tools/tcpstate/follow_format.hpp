#pragma once
// What tcpstate follow's three outputs (changes, --life, --summary) write alike: times, endpoints,
// and JSON lines built directly (at tens of thousands of lines a second a Record per line, an
// ordered JSON object built and dumped, was most of the tracer's CPU).
#include <time.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpstate {

// The wall clock of a CLOCK_MONOTONIC time, by the offset measured at the start.
class WallClock {
 public:
  WallClock();
  int64_t unix_ns(uint64_t mono_ns) const { return int64_t(mono_ns) + offset_ns_; }
  std::string text(uint64_t mono_ns) const;  // "14:03:07.123456", local time

 private:
  int64_t offset_ns_ = 0;
};

uint64_t monotonic_ns();

// "10.0.0.1:80", "[fd00::1]:80".
std::string endpoint_text(const tcpkit::IpAddress& a, uint16_t port);

// The two ends as every follow line writes them: "ipv4  10.0.0.1:40000 -> 10.0.0.2:80", and in
// JSON ,"family":..,"local_address":..,"local_port":..,"remote_address":..,"remote_port":..
std::string endpoints_text(const tcpkit::IpAddress& local, uint16_t local_port, const tcpkit::IpAddress& remote,
                           uint16_t remote_port);
void append_endpoints_json(std::string& out, const tcpkit::IpAddress& local, uint16_t local_port,
                           const tcpkit::IpAddress& remote, uint16_t remote_port);

// A JSON string: every string here is ours (addresses, state names, fixed phrases); quotes,
// backslashes and control characters would still be escaped.
void append_json_string(std::string& out, std::string_view text);

template <typename Number>
void append_number(std::string& out, Number n) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, r.ptr);
}

}  // namespace tcpstate
