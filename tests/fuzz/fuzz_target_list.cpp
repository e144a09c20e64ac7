// The -iL reader's tokenizer on arbitrary file contents. Beyond "no crash": tokens are
// non-empty, hold no separator or comment, appear in the input in order, and carry line numbers
// that never go back and stay within the input's lines.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "tcpkit/wire/target_set.hpp"

using namespace tcpkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string content(reinterpret_cast<const char*>(data), size);
  const auto tokens = split_target_list(content);
  size_t at = 0;
  size_t total = 0;
  long last_line = 1;
  for (const auto& token : tokens) {
    const std::string& t = token.text;
    FUZZ_CHECK(!t.empty());
    for (char c : t) FUZZ_CHECK(c != ',' && c != '#' && !std::isspace(static_cast<unsigned char>(c)));
    const size_t found = content.find(t, at);
    FUZZ_CHECK(found != std::string::npos);
    // The first occurrence may sit in a comment before the token: its line is a lower bound.
    FUZZ_CHECK(token.line >= 1 + std::count(content.begin(), content.begin() + std::ptrdiff_t(found), '\n'));
    FUZZ_CHECK(token.line >= last_line && token.line <= 1 + std::count(content.begin(), content.end(), '\n'));
    last_line = token.line;
    at = found + t.size();
    total += t.size();
  }
  FUZZ_CHECK(total <= size);
  return 0;
}
