#pragma once
// "unknown option --cout; did you mean --count?": the nearest flag for a mistyped one.
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tcpkit::cli {

// Edits (insert, delete, substitute, swap two neighbours) between a and b.
size_t edit_distance(const std::string& a, const std::string& b);

// The flag of `candidates` ("--count", "-c") nearest to `typed` ("--cout", "--cout=3"), if one is
// near enough to be a typo: at most 2 edits, and fewer than half the name's letters.
std::optional<std::string> nearest_flag(const std::string& typed, const std::vector<std::string>& candidates);

// Every flag the app and its subcommands accept, spelled as on the command line.
std::vector<std::string> app_flags(const CLI::App& app);

// The one-line message for the first of args (the command line, or what CLI11 did not expect)
// that looks like an option the app does not have, with its nearest flag; empty when none.
std::string unknown_option_message(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace tcpkit::cli
