#pragma once
// Text as a terminal shows it, measured in cells rather than bytes, so that table columns line
// up for UTF-8 names, wide East Asian characters and invalid bytes alike. UTF-8 is decoded
// here, not by the C library: the result does not depend on the user's locale.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tcpkit {

// The text with nothing left in it that moves the cursor or garbles the terminal: invalid
// UTF-8 bytes and control characters (C0, DEL, C1) become "\xNN" per byte; valid UTF-8 stays.
std::string terminal_safe(std::string_view text);

// True when every byte is printable ASCII (0x20-0x7E): such text is already terminal-safe and
// takes one cell a byte. The fast path of the functions here, and of callers that check a line.
bool printable_ascii(std::string_view text);

// Cells one code point takes: 2 for East Asian wide and fullwidth characters, 0 for combining
// marks and zero-width characters, 1 otherwise (wcwidth, without the locale).
int codepoint_width(char32_t cp);

// Cells the text takes once made terminal_safe (an escaped byte counts its 4 cells).
size_t display_width(std::string_view text);

// terminal_safe(text), then spaces up to `cells` cells (nothing added when it is already wider).
std::string pad_cells(std::string_view text, size_t cells);

// The one text folder: made terminal_safe, folded at spaces so that no line is wider than
// `cells`, each line after the first starting with `continuation` ("  ", "#   "). Spaces inside
// a line are kept (a name padded to its column); the run where a line breaks goes, as do
// trailing spaces. A word wider than a line is cut. Ends with a newline.
std::string fold_cells(std::string_view text, size_t cells, std::string_view continuation);

// Prose folded so that no line is wider than `cells`; lines after the first start with `indent`
// spaces, or as many as the first line's own indent, at most half a line.
std::string wrap_cells(std::string_view text, size_t cells, size_t indent);

// Phrases joined by `separator` ("12 probes sent", "0% loss", "time 401 ms" with ", "), folded
// only between phrases, so that a script's grep for one finds it on one line; a phrase wider
// than a line is folded at its spaces. Lines after the first start with `indent` spaces.
std::string fold_phrases(const std::vector<std::string>& phrases, std::string_view separator, size_t cells,
                         size_t indent);

}  // namespace tcpkit
