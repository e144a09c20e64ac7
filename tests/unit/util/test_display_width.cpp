#include <catch2/catch.hpp>

#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/output.hpp"

using namespace tcpkit;

TEST_CASE("display width counts cells, not bytes") {
  CHECK(display_width("nginx") == 5);
  CHECK(display_width("p\xC3\xB6p-srv\xE2\x82\xAC") == 8);  // pöp-srv€: 11 bytes, 8 cells
  CHECK(display_width("\xE4\xB8\xAD\xE6\x96\x87") == 4);     // 中文: wide, 2 cells each
  CHECK(display_width("e\xCC\x81") == 1);                    // e + combining acute
  CHECK(display_width("\xEF\xBC\xA1") == 2);                 // fullwidth A
  CHECK(display_width("\xF0\x9F\x98\x80") == 2);             // emoji
  CHECK(display_width("") == 0);
}

TEST_CASE("invalid bytes and control characters are escaped and counted as shown") {
  CHECK(terminal_safe("a\xFF" "b") == "a\\xffb");
  CHECK(display_width("a\xFF" "b") == 6);
  CHECK(terminal_safe("x\x1b[31my") == "x\\x1b[31my");
  CHECK(terminal_safe("tab\there") == "tab\\x09here");
  CHECK(terminal_safe("\x7f") == "\\x7f");
  CHECK(terminal_safe("\xC2\x85") == "\\xc2\\x85");           // C1 control NEL
  CHECK(terminal_safe("\xC0\xAF") == "\\xc0\\xaf");           // overlong '/'
  CHECK(terminal_safe("\xED\xA0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(terminal_safe("\xE2\x82") == "\\xe2\\x82");           // truncated
  CHECK(terminal_safe("p\xC3\xB6p") == "p\xC3\xB6p");         // valid UTF-8 stays
}

TEST_CASE("pad_cells and wrap_cells work in cells") {
  CHECK(pad_cells("\xE2\x82\xAC", 3) == "\xE2\x82\xAC  ");
  CHECK(pad_cells("toolong", 3) == "toolong");
  const std::string wrapped = wrap_cells("one two three four five six", 10, 2);
  CHECK(wrapped == "one two\n  three\n  four\n  five six\n");
  CHECK(wrap_cells("abcdefghijkl", 5, 0) == "abcde\nfghij\nkl\n");
  CHECK(wrap_cells("short", 80, 4) == "short\n");
}

TEST_CASE("wrap_cells keeps a number with its unit") {
  // Found: tcpprobe's summary folded "time 401\n  ms", and a grep for "time [0-9]+ ms" failed.
  CHECK(wrap_cells("0% loss, time 401 ms", 17, 2) == "0% loss, time\n  401 ms\n");
  CHECK(wrap_cells("waits 2.5 s, then", 9, 2) == "waits\n  2.5 s,\n  then\n");
  CHECK(wrap_cells("loss 100 %", 8, 0) == "loss\n100 %\n");
  // Words that are no units break as before.
  CHECK(wrap_cells("sent 3 probes", 6, 0) == "sent 3\nprobes\n");
}

TEST_CASE("fold_phrases breaks only between phrases") {
  const std::vector<std::string> phrases = {"12 probes sent", "0 answered (0 open, 0 closed)", "100% loss", "time 401 ms"};
  CHECK(fold_phrases(phrases, ", ", 80, 2) == "12 probes sent, 0 answered (0 open, 0 closed), 100% loss, time 401 ms\n");
  CHECK(fold_phrases(phrases, ", ", 50, 2) == "12 probes sent, 0 answered (0 open, 0 closed),\n  100% loss, time 401 ms\n");
  // A phrase wider than a line is folded at its spaces.
  CHECK(fold_phrases({"one two three four", "five"}, ", ", 10, 2) == "one two\n  three\n  four,\n  five\n");
}

TEST_CASE("text tables align UTF-8, wide and invalid names") {
  TextTable t({"PROCESS", "TOTAL"});
  t.add_row({"p\xC3\xB6p-srv\xE2\x82\xAC[15070]", "3"});
  t.add_row({"\xE4\xB8\xAD\xE6\x96\x87[1]", "4"});
  t.add_row({"bad\xFF[2]", "5"});
  t.add_row({"nginx[77]", "6"});
  CHECK(t.render() ==
        "PROCESS          TOTAL\n"
        "p\xC3\xB6p-srv\xE2\x82\xAC[15070]  3\n"
        "\xE4\xB8\xAD\xE6\x96\x87[1]          4\n"
        "bad\\xff[2]       5\n"
        "nginx[77]        6\n");
}

TEST_CASE("wrap_cells keeps a leading indent and never passes the width") {
  CHECK(wrap_cells("    sent: R seq=1 ack=2", 14, 4) == "    sent: R\n    seq=1\n    ack=2\n");
  const std::string long_line(200, 'x');
  for (const auto& width : {10, 40, 80}) {
    const std::string w = wrap_cells("a " + long_line + " b \xE4\xB8\xAD\xE6\x96\x87\xE4\xB8\xAD", width, 2);
    size_t start = 0;
    while (start < w.size()) {
      const size_t end = w.find('\n', start);
      CHECK(display_width(std::string_view(w).substr(start, end - start)) <= size_t(width));
      start = end + 1;
    }
  }
}

TEST_CASE("printable_ascii: every byte 0x20-0x7E, whatever its place in the 8-byte words") {
  for (size_t length = 0; length <= 19; ++length) {
    const std::string plain(length, 'a');
    CHECK(printable_ascii(plain));
    CHECK(printable_ascii(std::string(length, ' ')));
    CHECK(printable_ascii(std::string(length, '~')));
    for (size_t at = 0; at < length; ++at)
      for (const unsigned char bad : {0x00, 0x09, 0x1B, 0x1F, 0x7F, 0x80, 0xC3, 0xFF}) {
        std::string text = plain;
        text[at] = char(bad);
        CHECK_FALSE(printable_ascii(text));
      }
  }
  // A byte of 0xFF next to printable ones: its carry must not hide it or flag its neighbour.
  CHECK_FALSE(printable_ascii(std::string("abcdefg\xff", 8)));
  CHECK(printable_ascii("0123456789 ~!@#$%^&*()_+{}|:<>?"));
}

TEST_CASE("fold_cells: the one folder keeps a column's padding, drops the run at a break") {
  // A name padded to its column keeps its spaces (wrap_cells once collapsed them to one).
  CHECK(wrap_cells("  net.ipv4.tcp_fin_timeout     60  (how long an orphan waits)", 40, 2) ==
        "  net.ipv4.tcp_fin_timeout     60  (how\n  long an orphan waits)\n");
  CHECK(fold_cells("# one two three four", 12, "#   ") == "# one two\n#   three\n#   four\n");
  CHECK(fold_cells("a    b", 3, "  ") == "a\n  b\n");  // the run where it breaks goes
  CHECK(fold_cells("fits  ", 80, "  ") == "fits\n");    // trailing spaces go, even on one line
  CHECK(fold_cells("bad\x1b[2J name and more", 12, " ") == "bad\\x1b[2J\n name and\n more\n");
  CHECK(fold_cells("", 80, "") == "\n");
}
