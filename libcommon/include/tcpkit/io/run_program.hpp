#pragma once
// Runs a helper program (nft, Graphviz's dot) with input on its stdin, its stdout and stderr
// collected, bounded in time. The child gets default signal dispositions and a process group of
// its own, so a terminal's Ctrl-C cannot kill it half-way (see run_program.cpp).
#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

// How many descriptors run_program opens at once (three pipes, both ends): callers that must
// not run out of descriptors at that moment (NftGuard at exit) reserve as many beforehand.
inline constexpr size_t kRunProgramDescriptors = 6;

struct ProgramOutput {
  int status = -1;  // its exit code; -1 when a signal ended it
  std::string out, err;
};

// The first of paths that is executable, or "" (the helpers we run live at fixed places).
std::string find_program(std::initializer_list<const char*> paths);

// Runs path with args; input goes to its stdin. When it has not finished within timeout it is
// killed and the error says so.
Result<ProgramOutput> run_program(const std::string& path, const std::vector<std::string>& args, const std::string& input,
                                  std::chrono::milliseconds timeout);

}  // namespace tcpkit
