#include "common/wording.hpp"

namespace tcpkit::cli {

std::string plural_of(uint64_t n, std::string_view singular, std::string_view plural) {
  if (n == 1) return std::string(singular);
  return plural.empty() ? std::string(singular) + "s" : std::string(plural);
}

std::string count_text(uint64_t n, std::string_view singular, std::string_view plural) {
  return std::to_string(n) + " " + plural_of(n, singular, plural);
}

}  // namespace tcpkit::cli
