#pragma once
// Validators for the flags the tools share; each returns a clear sentence on bad input.
#include <chrono>
#include <string>

#include "tcpkit/util/error.hpp"

namespace tcpkit::cli {

// "1", "0.2", "250ms", "500us", "2s", "1m": a duration; a bare number means seconds.
// Negative, empty, non-numeric or absurd (> 1 day) values are rejected.
Result<std::chrono::microseconds> parse_duration(const std::string& text);

// A count: a positive integer up to max.
Result<long long> parse_count(const std::string& text, long long max);

}  // namespace tcpkit::cli
