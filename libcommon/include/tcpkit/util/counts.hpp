#pragma once
// Counts as people read them: "1 probe", "2 probes", "1 reply", "2 replies", "65,535 ports".
#include <cstdint>
#include <string>
#include <string_view>

namespace tcpkit {

// "65,535": thousands separated by commas.
std::string with_commas(uint64_t n);

// n and the word, singular for 1; plural defaults to the word + "s". Thousands separated.
std::string count_of(uint64_t n, std::string_view word, std::string_view plural = {});

}  // namespace tcpkit
