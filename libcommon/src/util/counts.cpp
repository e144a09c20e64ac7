#include "tcpkit/util/counts.hpp"

namespace tcpkit {

std::string with_commas(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string count_of(uint64_t n, std::string_view word, std::string_view plural) {
  std::string out = with_commas(n) + " ";
  if (n == 1) return out.append(word);
  if (!plural.empty()) return out.append(plural);
  return out.append(word).append("s");
}

}  // namespace tcpkit
