#include "tcpkit/util/output.hpp"

#include "tcpkit/util/display_width.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace tcpkit {

void JsonLinesWriter::write(const Record& record) {
  const std::string line = record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  if (flush_each_line_) std::fflush(out_);
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

namespace {
std::string cell_text(const Record& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}
}  // namespace

void CsvWriter::write_header() {
  if (header_written_) return;
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) line += (i ? "," : "") + csv_escape(columns_[i]);
  line += '\n';
  header_written_ = true;
  std::fwrite(line.data(), 1, line.size(), out_);
  if (flush_each_line_) std::fflush(out_);
}

void CsvWriter::write(const Record& record) {
  write_header();
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) line += ',';
    auto it = record.find(columns_[i]);
    if (it != record.end()) line += csv_escape(cell_text(*it));
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
  if (flush_each_line_) std::fflush(out_);
}

void TextTable::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

namespace {
constexpr size_t kColumnGap = 2;

std::vector<size_t> column_widths(const std::vector<std::vector<std::string>>& lines, size_t columns) {
  std::vector<size_t> width(columns);
  for (const auto& cells : lines)
    for (size_t i = 0; i < cells.size(); ++i) width[i] = std::max(width[i], display_width(cells[i]));
  return width;
}
}  // namespace

// Cells, not bytes: a UTF-8 or wide name must not shift the columns after it.
std::vector<std::vector<std::string>> TextTable::safe_lines() const {
  auto safe = [](const std::vector<std::string>& cells) {
    std::vector<std::string> out;
    out.reserve(cells.size());
    for (const auto& c : cells) out.push_back(terminal_safe(c));
    return out;
  };
  std::vector<std::vector<std::string>> lines{safe(headers_)};
  lines.reserve(rows_.size() + 1);
  for (const auto& row : rows_) lines.push_back(safe(row));
  return lines;
}

std::string TextTable::render_columns(const std::vector<std::vector<std::string>>& lines, const std::vector<size_t>& width,
                                      const std::vector<size_t>& columns) {
  std::string out;
  for (const auto& cells : lines) {
    std::string line;
    for (size_t n = 0; n < columns.size(); ++n) {
      const size_t i = columns[n];
      line += cells[i];
      if (n + 1 < columns.size()) line += std::string(width[i] - display_width(cells[i]) + kColumnGap, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string TextTable::render() const {
  const auto lines = safe_lines();
  std::vector<size_t> all(headers_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return render_columns(lines, column_widths(lines, headers_.size()), all);
}

std::string TextTable::render_within(size_t cells, size_t keep) const {
  const auto lines = safe_lines();
  const auto width = column_widths(lines, headers_.size());
  keep = std::min(keep, headers_.size());
  std::vector<size_t> kept(keep);
  size_t kept_width = 0;
  for (size_t i = 0; i < keep; ++i) kept[i] = i, kept_width += width[i] + kColumnGap;
  std::string out;
  size_t next = keep;
  do {
    std::vector<size_t> block = kept;
    size_t used = kept_width;
    // The last column needs no gap after it: a column fits when its cells do.
    while (next < headers_.size() && (block.size() == keep || used + width[next] <= cells)) {
      block.push_back(next);
      used += width[next++] + kColumnGap;
    }
    if (!out.empty()) out += '\n';
    out += render_columns(lines, width, block);
  } while (next < headers_.size());
  return out;
}

std::string format_duration_ms(double ms) {
  if (ms < 1) return format_fixed(ms, 3) + " ms";
  if (ms < 1000) return format_fixed(ms, 1) + " ms";
  return format_fixed(ms / 1000, 2) + " s";
}

std::string format_fixed(double value, int decimals) {
  // std::to_chars cannot fail for want of room here: DBL_MAX written in full is 309 digits.
  char buf[400];
  const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
  return r.ec == std::errc() ? std::string(buf, r.ptr) : std::string();
}

std::string format_signed_fixed(double value, int decimals, size_t width) {
  std::string text = format_fixed(value, decimals);
  if (!text.empty() && text[0] != '-') text.insert(text.begin(), '+');
  if (text.size() < width) text.insert(0, width - text.size(), ' ');
  return text;
}

}  // namespace tcpkit
