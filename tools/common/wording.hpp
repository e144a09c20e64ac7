#pragma once
// Counted nouns in messages and summaries: "1 case", "2 cases", "1 probe sent"; the width text
// for people is folded at.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tcpkit::cli {

// Every text report fits a terminal of 80 columns, whatever the terminal (the output is the
// same in a pipe, a file and a script's log).
inline constexpr size_t kTerminalColumns = 80;

// "1 socket", "3 sockets"; plural defaults to singular + "s" ("process" needs "processes").
std::string count_text(uint64_t n, std::string_view singular, std::string_view plural = {});
// The noun alone, for counts printed apart: plural_of(1, "case") == "case".
std::string plural_of(uint64_t n, std::string_view singular, std::string_view plural = {});

}  // namespace tcpkit::cli
