#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "tcpkit/util/output.hpp"

using namespace tcpkit;

namespace {
// Runs fn with a temporary FILE* and returns what it wrote.
template <class Fn>
std::string capture(Fn fn) {
  std::FILE* f = std::tmpfile();
  fn(f);
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}
}  // namespace

TEST_CASE("JSON Lines keeps numbers as numbers and key order") {
  Record r;
  r["type"] = "probe";
  r["rtt_us"] = 1234;
  r["ok"] = true;
  const auto out = capture([&](std::FILE* f) { JsonLinesWriter(f).write(r); });
  CHECK(out == "{\"type\":\"probe\",\"rtt_us\":1234,\"ok\":true}\n");
}

TEST_CASE("CSV writes the header once and quotes what needs it") {
  const auto out = capture([](std::FILE* f) {
    CsvWriter w(f, {"type", "name", "n"});
    Record a;
    a["type"] = "x";
    a["name"] = "a,b \"q\"";
    a["n"] = 3;
    w.write(a);
    Record b;
    b["type"] = "y";
    w.write(b);
  });
  CHECK(out == "type,name,n\nx,\"a,b \"\"q\"\"\",3\ny,,\n");
}

TEST_CASE("text tables align columns") {
  TextTable t({"A", "LONGER"});
  t.add_row({"1234567", "x"});
  CHECK(t.render() == "A        LONGER\n1234567  x\n");
}

TEST_CASE("a text table too wide for the terminal is printed in blocks, each led by the kept columns") {
  TextTable t({"KEY", "TOTAL", "AAAA", "BBBB", "CCCC"});
  t.add_row({"peer-one", "12", "1", "2", "9"});
  t.add_row({"p2", "3", "", "3", ""});
  // It fits: the same as render().
  CHECK(t.render_within(80, 2) == t.render());
  CHECK(t.render_within(33, 2) == t.render());  // 33 cells wide, exactly
  // 27 cells: KEY, TOTAL and two more; the rest after a blank line, the key columns as wide.
  CHECK(t.render_within(27, 2) ==
        "KEY       TOTAL  AAAA  BBBB\n"
        "peer-one  12     1     2\n"
        "p2        3            3\n"
        "\n"
        "KEY       TOTAL  CCCC\n"
        "peer-one  12     9\n"
        "p2        3\n");
  // Narrower than the kept columns and one more: one column a block still.
  CHECK(t.render_within(10, 2) ==
        "KEY       TOTAL  AAAA\npeer-one  12     1\np2        3\n\n"
        "KEY       TOTAL  BBBB\npeer-one  12     2\np2        3      3\n\n"
        "KEY       TOTAL  CCCC\npeer-one  12     9\np2        3\n");
  // Nothing kept: the first column leads nothing.
  TextTable two({"A", "B"});
  two.add_row({"x", "y"});
  CHECK(two.render_within(2, 0) == "A\nx\n\nB\ny\n");
}

TEST_CASE("fixed formatting") {
  CHECK(format_fixed(1.23456, 3) == "1.235");
  CHECK(format_fixed(0, 1) == "0.0");
  CHECK(format_fixed(1e300, 2).size() == 304);  // no value too large for its buffer
  CHECK(format_signed_fixed(-1.5, 3, 9) == "   -1.500");
  CHECK(format_signed_fixed(12.25, 1, 9) == "    +12.2");
  CHECK(format_signed_fixed(123456789.5, 1, 9) == "+123456789.5");
}
