#include "tcpkit/util/display_width.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace tcpkit {

namespace {

struct Range {
  char32_t first, last;
};

// Combining marks, format and zero-width characters (Unicode 15, the blocks names use).
constexpr Range kZeroWidth[] = {
    {0x0300, 0x036F},   {0x0483, 0x0489},   {0x0591, 0x05BD},   {0x05BF, 0x05BF},   {0x05C1, 0x05C2},
    {0x05C4, 0x05C5},   {0x05C7, 0x05C7},   {0x0610, 0x061A},   {0x064B, 0x065F},   {0x0670, 0x0670},
    {0x06D6, 0x06DC},   {0x06DF, 0x06E4},   {0x06E7, 0x06E8},   {0x06EA, 0x06ED},   {0x0711, 0x0711},
    {0x0730, 0x074A},   {0x07A6, 0x07B0},   {0x0900, 0x0902},   {0x093A, 0x093A},   {0x093C, 0x093C},
    {0x0941, 0x0948},   {0x094D, 0x094D},   {0x0951, 0x0957},   {0x0962, 0x0963},   {0x0E31, 0x0E31},
    {0x0E34, 0x0E3A},   {0x0E47, 0x0E4E},   {0x1160, 0x11FF},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},
    {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x20D0, 0x20F0},   {0x302A, 0x302D},
    {0x3099, 0x309A},   {0xFE00, 0xFE0F},   {0xFE20, 0xFE2F},   {0xFEFF, 0xFEFF},   {0x1F3FB, 0x1F3FF},
    {0xE0001, 0xE007F}, {0xE0100, 0xE01EF},
};

// East Asian Wide (W) and Fullwidth (F), including the emoji presentation blocks.
constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},   {0x23F0, 0x23F0},
    {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x267F, 0x267F},
    {0x2693, 0x2693},   {0x26A1, 0x26A1},   {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},
    {0x26CE, 0x26CE},   {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},   {0x2728, 0x2728},
    {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},
    {0x27B0, 0x27B0},   {0x27BF, 0x27BF},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},
    {0x2E80, 0x3029},   {0x302E, 0x303E},   {0x3041, 0x3098},   {0x309B, 0x33FF},   {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18CFF}, {0x1AFF0, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
    {0x1F191, 0x1F19A}, {0x1F200, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251},
    {0x1F260, 0x1F265}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393},
    {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F3FA},
    {0x1F400, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E},
    {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7}, {0x1F6DC, 0x1F6DF},
    {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB}, {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A},
    {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

template <size_t N>
bool in(const Range (&ranges)[N], char32_t cp) {
  auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                             [](char32_t c, const Range& r) { return c < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

// One UTF-8 sequence at text[i]: its code point and length, or length 0 when invalid
// (truncated, overlong, a surrogate, above U+10FFFF, or a stray continuation byte).
struct Decoded {
  char32_t cp = 0;
  size_t length = 0;
};

Decoded decode(std::string_view text, size_t i) {
  const auto b0 = static_cast<uint8_t>(text[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t n;
  char32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) n = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) n = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) n = 4, cp = b0 & 0x07, min = 0x10000;
  else return {};
  if (i + n > text.size()) return {};
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<uint8_t>(text[i + k]);
    if ((b & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, n};
}

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

void append_escaped(std::string& out, std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
}

// Calls f(piece, cells) for each code point or escaped byte of the terminal-safe text.
template <typename F>
void for_each_piece(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b >= 0x20 && b < 0x7F) {  // ASCII fast path: most text is
      f(text.substr(i, 1), 1, false);
      ++i;
      continue;
    }
    const Decoded d = decode(text, i);
    if (d.length == 0 || is_control(d.cp)) {
      const size_t n = d.length ? d.length : 1;
      f(text.substr(i, n), 4 * n, true);
      i += n;
      continue;
    }
    f(text.substr(i, d.length), static_cast<size_t>(codepoint_width(d.cp)), false);
    i += d.length;
  }
}

}  // namespace

int codepoint_width(char32_t cp) {
  if (cp == 0 || in(kZeroWidth, cp)) return 0;
  return in(kWide, cp) ? 2 : 1;
}

bool printable_ascii(std::string_view text) {
  // Eight bytes at a time: almost every line a tool prints is plain ASCII, and the checks of
  // the table's cells ran once a byte per column before.
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t x = 0;
    std::memcpy(&x, text.data() + i, 8);
    const uint64_t below_space = (x - 0x20 * kOnes) & ~x & kHighs;  // some byte < 0x20
    const uint64_t del_or_high = ((x + kOnes) | x) & kHighs;         // some byte >= 0x7F
    if ((below_space | del_or_high) != 0) return false;
  }
  for (; i < text.size(); ++i)
    if (static_cast<unsigned char>(static_cast<unsigned char>(text[i]) - 0x20) >= 0x5F) return false;
  return true;
}

std::string terminal_safe(std::string_view text) {
  if (printable_ascii(text)) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for_each_piece(text, [&](std::string_view piece, size_t, bool escape) {
    if (escape) append_escaped(out, piece);
    else out += piece;
  });
  return out;
}

size_t display_width(std::string_view text) {
  if (printable_ascii(text)) return text.size();
  size_t cells = 0;
  for_each_piece(text, [&](std::string_view, size_t w, bool) { cells += w; });
  return cells;
}

std::string pad_cells(std::string_view text, size_t cells) {
  std::string out = terminal_safe(text);
  const size_t used = display_width(out);
  if (used < cells) out.append(cells - used, ' ');
  return out;
}

namespace {
// A number and its unit stay on one line: "time 401\n  ms" was folded so (a grep for
// "time [0-9]+ ms" then found nothing). The end of the word at `start`, its unit included.
size_t glued_word_end(std::string_view text, size_t start) {
  static constexpr std::string_view kUnits[] = {"ns", "us", "\u00b5s", "ms", "s", "%", "B", "kB", "MB", "GB", "KiB", "MiB", "GiB"};
  const size_t end = std::min(text.find(' ', start), text.size());
  if (end == start || end + 1 >= text.size() || !std::isdigit(static_cast<unsigned char>(text[end - 1]))) return end;
  const size_t unit_end = std::min(text.find(' ', end + 1), text.size());
  std::string_view unit = text.substr(end + 1, unit_end - end - 1);
  while (!unit.empty() && std::string_view(",.;:)").find(unit.back()) != std::string_view::npos) unit.remove_suffix(1);
  for (const auto u : kUnits)
    if (unit == u) return unit_end;
  return end;
}
}  // namespace

std::string fold_cells(std::string_view text, size_t cells, std::string_view continuation) {
  const std::string safe = terminal_safe(text);
  if (display_width(safe) <= cells) {
    std::string out = safe;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + '\n';
  }
  const size_t lead_width = display_width(continuation);
  std::string out, line;
  size_t line_cells = 0;
  bool has_word = false;
  auto break_line = [&] {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line).append(1, '\n');
    line.assign(continuation);
    line_cells = lead_width;
    has_word = false;
  };
  size_t i = 0;
  while (i < safe.size()) {
    const size_t word_start = safe.find_first_not_of(' ', i);
    if (word_start == std::string::npos) break;
    const size_t word_end = glued_word_end(safe, word_start);
    const std::string_view gap(safe.data() + i, word_start - i);
    const std::string_view word(safe.data() + word_start, word_end - word_start);
    i = word_end;
    // The spaces before a word stay with it (a name padded to its column), unless the line breaks there.
    if (has_word && line_cells + gap.size() + display_width(word) > cells) {
      break_line();
    } else {
      line.append(gap);
      line_cells += gap.size();
    }
    // A word longer than a whole line is cut, one code point at a time.
    for_each_piece(word, [&](std::string_view piece, size_t w, bool) {
      if (line_cells + w > cells && has_word) break_line();
      line.append(piece);
      line_cells += w;
      has_word = true;
    });
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return out + line + '\n';
}

std::string wrap_cells(std::string_view text, size_t cells, size_t indent) {
  const size_t lead = std::min(text.find_first_not_of(' '), text.size());  // kept on the first line
  return fold_cells(text, cells, std::string(std::min(std::max(indent, lead), cells / 2), ' '));
}

std::string fold_phrases(const std::vector<std::string>& phrases, std::string_view separator, size_t cells,
                         size_t indent) {
  const std::string lead(std::min(indent, cells / 2), ' ');
  std::string out, line;
  for (size_t i = 0; i < phrases.size(); ++i) {
    const std::string piece = phrases[i] + (i + 1 < phrases.size() ? std::string(separator) : std::string());
    const std::string trimmed = piece.substr(0, piece.find_last_not_of(' ') + 1);  // a line ends without the space
    if (!line.empty() && line != lead && display_width(line + trimmed) > cells) {
      out += fold_cells(line, cells, lead);
      line = lead;
    }
    line += piece;
  }
  return out + fold_cells(line, cells, lead);
}

}  // namespace tcpkit
