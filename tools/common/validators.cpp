#include "common/validators.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace tcpkit::cli {

namespace {
// LLONG_MAX has 19 digits: a longer text is no count we can hold.
constexpr size_t kMaxCountDigits = 19;
}  // namespace

Result<std::chrono::microseconds> parse_duration(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::bad_input, "invalid duration '" + text + "': " + why);
  };
  if (text.empty()) return bad("empty");
  size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  const std::string number = text.substr(0, unit_at);
  const std::string unit = text.substr(unit_at);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.'))
    return bad("expected a number such as 1, 0.2, 250ms or 500us");
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) return bad("not a number");
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e6;
  else if (unit == "ms") scale = 1e3;
  else if (unit == "us") scale = 1;
  else if (unit == "m") scale = 60e6;
  else return bad("unknown unit '" + unit + "' (use s, ms, us or m)");
  const double micros = value * scale;
  if (micros > 86400e6) return bad("longer than a day");
  return std::chrono::microseconds(static_cast<long long>(std::llround(micros)));
}

Result<long long> parse_count(const std::string& text, long long max) {
  if (text.empty() || text.size() > kMaxCountDigits) return fail(ErrorCode::bad_input, "invalid count '" + text + "'");
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return fail(ErrorCode::bad_input, "invalid count '" + text + "': expected a positive whole number");
  const long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (value < 1 || value > max)
    return fail(ErrorCode::bad_input, "invalid count '" + text + "': must be 1 to " + std::to_string(max));
  return value;
}

}  // namespace tcpkit::cli
